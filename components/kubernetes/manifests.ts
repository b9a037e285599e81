/**
 * The specs of a Kubernetes fleet's objects, built from a {@link ResolvedWorkload}: each role's
 * pod (container, probes, security context, volumes, placement and spread) and Deployment, the
 * Service in front of both roles, and the PodDisruptionBudget over every pod. Plain data, built
 * by pure functions, so that tests compare them without mocks and the same settings give
 * byte-identical inputs on every run.
 */
import { HealthCheck, healthCheckKind } from "../core/health";
import { ContainerRelease, HERD_LABELS } from "../release/container";
import { ConfigMapRefs, fileKey, goesToSecret } from "./configMaps";
import { CONTAINER_NAME, deploymentSelector, fleetSelector, METRICS_PORT_NAME, podLabels, PORT_NAME, TOPOLOGY_KEY } from "./names";
import type { ResolvedWorkload, RolePlan } from "./plan";
import { podVolume, volumeMount } from "./pod";

/** The paths of a release's files whose content goes (or does not go) to the role's Secret, in canonical order. */
function filePaths(release: ContainerRelease, secret: boolean): string[] {
    return Object.entries(release.files ?? {})
        .filter(([, content]) => goesToSecret(content) === secret)
        .map(([path]) => path);
}

/**
 * The probe of a health check: `httpGet`, `tcpSocket` or `exec`. A command gets 5 s, for the
 * process it starts in the container; a connection 2 s.
 */
export function healthProbe(health: HealthCheck) {
    switch (healthCheckKind(health)) {
        case "command":
            return { exec: { command: [...(health.command as readonly string[])] }, timeoutSeconds: 5 };
        case "tcp":
            return { tcpSocket: { port: health.port as number }, timeoutSeconds: 2 };
        default:
            return { httpGet: { path: health.path as string, port: health.port as number, scheme: "HTTP" }, timeoutSeconds: 2 };
    }
}

/**
 * The container's ports: the release's serving port (`http`), and the metrics port (`metrics`)
 * when metrics are served on a port of their own, which Prometheus can only scrape once the pod
 * declares it.
 */
function containerPorts(workload: ResolvedWorkload, plan: RolePlan) {
    const port = plan.release.port;
    const metrics = workload.metrics === false ? undefined : workload.metrics.port;
    return [
        ...(port === undefined ? [] : [{ name: PORT_NAME, containerPort: port, protocol: "TCP" }]),
        ...(metrics === undefined || metrics === port ? [] : [{ name: METRICS_PORT_NAME, containerPort: metrics, protocol: "TCP" }]),
    ];
}

/**
 * Where Prometheus scrapes the fleet's pods: the metrics port by number when one is set, else the
 * serving port by name when every role has one; `undefined` when there is nothing to scrape
 * (metrics off, or a fleet that serves no port), so that no scrape target is promised that would
 * never come up.
 *
 * @group Monitoring
 */
export function scrapePort(workload: ResolvedWorkload): string | number | undefined {
    if (workload.metrics === false) {
        return undefined;
    }
    if (workload.metrics.port !== undefined) {
        return workload.metrics.port;
    }
    return workload.roles.every((plan) => plan.release.port !== undefined) ? PORT_NAME : undefined;
}

function container<N>(workload: ResolvedWorkload, plan: RolePlan, configMaps: ConfigMapRefs<N>) {
    const { release } = plan;
    const files = filePaths(release, false);
    const secretFiles = filePaths(release, true);
    const envFrom = [
        ...(configMaps.env === undefined ? [] : [{ configMapRef: { name: configMaps.env } }]),
        ...(configMaps.secretEnv === undefined ? [] : [{ secretRef: { name: configMaps.secretEnv } }]),
    ];
    return {
        name: CONTAINER_NAME,
        image: release.image,
        ...(release.command ? { command: [...release.command] } : {}),
        ...(release.args ? { args: [...release.args] } : {}),
        ...(containerPorts(workload, plan).length > 0 ? { ports: containerPorts(workload, plan) } : {}),
        ...(envFrom.length === 0 ? {} : { envFrom }),
        resources: {
            requests: { ...workload.resources.requests },
            limits: { ...workload.resources.limits },
        },
        securityContext: {
            runAsNonRoot: workload.security.runAsNonRoot,
            readOnlyRootFilesystem: workload.security.readOnlyRootFilesystem,
            allowPrivilegeEscalation: workload.security.allowPrivilegeEscalation,
            capabilities: {
                drop: ["ALL"],
                ...(workload.security.addCapabilities.length > 0 ? { add: [...workload.security.addCapabilities] } : {}),
            },
        },
        // The startup probe gives a slow start up to 150 s before the liveness probe may restart it;
        // readiness decides, every 5 s, whether the Service sends the pod traffic.
        ...(workload.health
            ? {
                  startupProbe: { ...healthProbe(workload.health), periodSeconds: 5, failureThreshold: 30 },
                  readinessProbe: { ...healthProbe(workload.health), periodSeconds: 5, failureThreshold: 3 },
                  livenessProbe: { ...healthProbe(workload.health), periodSeconds: 10, failureThreshold: 3 },
              }
            : {}),
        volumeMounts: [
            { name: "tmp", mountPath: "/tmp" },
            ...files.map((path) => ({ name: "files", mountPath: path, subPath: fileKey(path), readOnly: true })),
            ...secretFiles.map((path) => ({ name: "secret-files", mountPath: path, subPath: fileKey(path), readOnly: true })),
            ...workload.pod.volumes.map(volumeMount),
        ],
    };
}

/**
 * The pod spec of a role: secure by default (non-root, read-only root filesystem with a writable
 * `/tmp`, no privilege escalation, every capability dropped, RuntimeDefault seccomp, no service
 * account token), with requests and limits, HTTP probes from `health`, env and files from the
 * role's ConfigMaps, and spread over nodes.
 */
export function buildPodSpec<N>(workload: ResolvedWorkload, plan: RolePlan, configMaps: ConfigMapRefs<N>) {
    const { security } = workload;
    const files = filePaths(plan.release, false);
    const secretFiles = filePaths(plan.release, true);
    if ((files.length > 0) !== (configMaps.files !== undefined)) {
        throw new Error(`KubernetesWorkload "${workload.name}": the ${plan.role} pods need a files ConfigMap exactly when the release has files`);
    }
    if ((secretFiles.length > 0) !== (configMaps.secretFiles !== undefined)) {
        throw new Error(`KubernetesWorkload "${workload.name}": the ${plan.role} pods need a files Secret exactly when the release has secret files`);
    }
    return {
        // Members talk to nothing in the API server unless told so; a token would only be something to steal.
        ...(workload.pod.serviceAccountName === undefined ? {} : { serviceAccountName: workload.pod.serviceAccountName }),
        automountServiceAccountToken: workload.pod.automountServiceAccountToken,
        ...(workload.pod.imagePullSecrets.length > 0 ? { imagePullSecrets: workload.pod.imagePullSecrets.map((name) => ({ name })) } : {}),
        // Service links add an env variable per Service in the namespace: noise that differs by namespace.
        enableServiceLinks: false,
        securityContext: {
            runAsNonRoot: security.runAsNonRoot,
            seccompProfile: { type: security.seccompProfile },
            ...(security.runAsUser === undefined ? {} : { runAsUser: security.runAsUser }),
            ...(security.runAsGroup === undefined ? {} : { runAsGroup: security.runAsGroup }),
            ...(security.fsGroup === undefined ? {} : { fsGroup: security.fsGroup }),
        },
        containers: [container(workload, plan, configMaps)],
        volumes: [
            { name: "tmp", emptyDir: {} },
            ...(configMaps.files === undefined
                ? []
                : [
                      {
                          name: "files",
                          configMap: {
                              name: configMaps.files,
                              items: fileItems(files),
                              // Files are config, not programs: readable by the container's user, writable by no one.
                              defaultMode: 0o444,
                          },
                      },
                  ]),
            ...(configMaps.secretFiles === undefined
                ? []
                : [
                      {
                          name: "secret-files",
                          secret: {
                              secretName: configMaps.secretFiles,
                              items: fileItems(secretFiles),
                              defaultMode: 0o444,
                          },
                      },
                  ]),
            ...workload.pod.volumes.map(podVolume),
        ],
        ...(Object.keys(workload.placement.nodeSelector).length > 0 ? { nodeSelector: { ...workload.placement.nodeSelector } } : {}),
        ...(workload.placement.tolerations.length > 0 ? { tolerations: workload.placement.tolerations.map((t) => ({ ...t })) } : {}),
        topologySpreadConstraints: [spreadConstraint(workload)],
    };
}

/** The items of a files volume: each file under its key, sorted by key, so the pod spec is the same on every run. */
function fileItems(paths: readonly string[]): { key: string; path: string }[] {
    return paths.map((path) => ({ key: fileKey(path), path: fileKey(path) })).sort((a, b) => (a.key < b.key ? -1 : 1));
}

/**
 * How a role's pods are spread over nodes. The skew is counted among the pods of one pod
 * template (`matchLabelKeys: [pod-template-hash]`): counting the fleet's other pods too would
 * count the old ReplicaSet's pods during a rollout, which are about to go, and pile the new
 * ones onto whatever nodes those left emptiest. Tainted nodes (a cordoned node being drained)
 * are left out of the count (`nodeTaintsPolicy: Honor`); otherwise the drained node's empty slot
 * keeps the skew at its limit and a hard spread strands the evicted pod Pending.
 */
export function spreadConstraint(workload: ResolvedWorkload) {
    return {
        maxSkew: 1,
        topologyKey: TOPOLOGY_KEY,
        whenUnsatisfiable: workload.spread === "anti-affinity" ? "DoNotSchedule" : "ScheduleAnyway",
        labelSelector: { matchLabels: { [HERD_LABELS.fleet]: workload.name } },
        matchLabelKeys: ["pod-template-hash"],
        nodeTaintsPolicy: "Honor",
    };
}

/**
 * The annotations of a role's pods: the fleet's `podAnnotations` and Prometheus's discovery
 * annotations (unless metrics are off or there is no port), sorted by key; none when empty.
 */
export function podAnnotations(workload: ResolvedWorkload, plan: RolePlan): Record<string, string> | undefined {
    const port = workload.metrics === false ? undefined : (workload.metrics.port ?? plan.release.port);
    const prometheus: Record<string, string> =
        workload.metrics === false || port === undefined
            ? {}
            : { "prometheus.io/path": workload.metrics.path, "prometheus.io/port": String(port), "prometheus.io/scrape": "true" };
    const annotations: Record<string, string> = { ...workload.pod.annotations, ...prometheus };
    const keys = Object.keys(annotations).sort();
    return keys.length === 0 ? undefined : Object.fromEntries(keys.map((key) => [key, annotations[key]]));
}

/**
 * The Deployment's rolling update: `batch` pods at a time, new ones first (`maxSurge`) or old
 * ones first (`maxUnavailable`).
 */
export function rollingUpdate(workload: ResolvedWorkload) {
    return {
        type: "RollingUpdate",
        rollingUpdate:
            workload.order === "create-before-delete"
                ? { maxSurge: workload.batch, maxUnavailable: 0 }
                : { maxSurge: 0, maxUnavailable: workload.batch },
    };
}

/** The pod annotation holding the checksum of a role's values wired from other resources (see `wiredChecksum`). */
export const WIRED_CHECKSUM_ANNOTATION = "herd.dev/wired-values-checksum";

/**
 * The spec of a role's Deployment. The pod template carries the checksum of the release's values
 * wired from other resources, when it has some: a new value changes the template, so the
 * Deployment rolls its pods although the generation (which holds placeholders) stays.
 */
export function buildDeploymentSpec<N>(workload: ResolvedWorkload, plan: RolePlan, configMaps: ConfigMapRefs<N>) {
    const given = podAnnotations(workload, plan);
    const annotations: Record<string, string | N> | undefined =
        configMaps.wiredChecksum === undefined
            ? given
            : Object.fromEntries(
                  Object.entries({ ...given, [WIRED_CHECKSUM_ANNOTATION]: configMaps.wiredChecksum }).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
              );
    return {
        replicas: plan.replicas,
        selector: { matchLabels: deploymentSelector(workload.name, plan.role) },
        strategy: rollingUpdate(workload),
        template: {
            metadata: { labels: podLabels(workload.name, plan), ...(annotations ? { annotations } : {}) },
            spec: buildPodSpec(workload, plan, configMaps),
        },
    };
}

/**
 * The spec of the fleet's Service: one port, targeting the pods' named port, so stable and canary
 * pods are both reached even when their releases listen on different ports.
 */
export function buildServiceSpec(workload: ResolvedWorkload, port: number) {
    return {
        type: "ClusterIP",
        selector: fleetSelector(workload.name),
        ports: [{ name: PORT_NAME, port, targetPort: PORT_NAME, protocol: "TCP" }],
    };
}

/** The spec of the fleet's PodDisruptionBudget: voluntary evictions take at most a batch at a time. */
export function buildDisruptionBudgetSpec(workload: ResolvedWorkload) {
    return {
        maxUnavailable: workload.batch,
        selector: { matchLabels: fleetSelector(workload.name) },
        // A pod that is not ready serves nothing; letting it be evicted keeps node drains from hanging on a broken member.
        unhealthyPodEvictionPolicy: "AlwaysAllow",
    };
}
