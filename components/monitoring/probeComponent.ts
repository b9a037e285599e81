import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type * as docker from "@pulumi/docker";
import type * as k8s from "@pulumi/kubernetes";
import {
    CONTAINER_PROBE_DIR,
    cronSchedule,
    durationSeconds,
    probeAlert,
    probeMetric,
    ProbeSpec,
    probeSpecProblems,
    PUSH_PROBE_NAME,
    PUSH_PROBE_SCRIPT,
    pushgatewayProblems,
} from "./probe";
import { childDependsOn } from "../core/dependencies";
import type { Toleration } from "../kubernetes/placement";
import { AlertRule } from "./rules";

/** The image probe containers run in: a POSIX shell and busybox's `wget` are all the wrapper needs. */
export const DEFAULT_PROBE_IMAGE = "docker.io/library/busybox:1.37";

/** Where a probe runs, and where its count goes. */
export type ProbeTarget =
    | {
          /** On every member of an OpenStack fleet, from a systemd timer its user data installs (see `ServerGroupArgs.probes`). */
          readonly backend: "openstack";
      }
    | {
          /** As a CronJob in the fleet's cluster. */
          readonly backend: "kubernetes";
          /** Namespace of the CronJob. @default "default" */
          readonly namespace?: string;
          /** Base URL of the Prometheus Pushgateway the count is pushed to. */
          readonly pushgateway: string;
          /** @default {@link DEFAULT_PROBE_IMAGE} */
          readonly image?: string;
          /** Node labels the probe's pods need, as the fleet's (`nodeSelector`). @default any node */
          readonly nodeSelector?: Readonly<Record<string, string>>;
          /** Taints the probe's pods tolerate, as the fleet's. @default none */
          readonly tolerations?: readonly Toleration[];
      }
    | {
          /** As a container on the fleet's Docker engine. */
          readonly backend: "docker";
          /** Base URL of the Prometheus Pushgateway the count is pushed to. */
          readonly pushgateway: string;
          /** Docker network the probe container joins (the fleet's, to reach its members). @default none */
          readonly network?: pulumi.Input<string>;
          /** @default {@link DEFAULT_PROBE_IMAGE} */
          readonly image?: string;
      };

/** What a {@link Probe} runs, for which fleet, and where. */
export interface ProbeArgs {
    /** The stack, as the metric's `herd_stack` label. */
    readonly stack: string;
    /** The fleet the probe watches. */
    readonly fleet: string;
    /** The probe: its script, schedule, metric and alert. */
    readonly probe: ProbeSpec;
    /** Where it runs and where its count goes. */
    readonly target: ProbeTarget;
}

/** Labels of a probe's objects (CronJob, ConfigMap, container), so `-l herd.dev/fleet=web` lists them with the fleet's. */
export function probeLabels(fleet: string, probe: string): Record<string, string> {
    return { "app.kubernetes.io/name": fleet, "herd.dev/fleet": fleet, "herd.dev/probe": probe };
}

/**
 * Labels of a probe's pods. Not the fleet's labels: the fleet's Service, PodDisruptionBudget and
 * spread select pods by `app.kubernetes.io/name` and `herd.dev/fleet`, and a probe pod they
 * selected would receive traffic, count against the spread, and, being a finished Job pod, hold
 * the budget at zero disruptions (a node drain would then hang).
 */
export function probePodLabels(fleet: string, probe: string): Record<string, string> {
    return { "app.kubernetes.io/component": "probe", "herd.dev/probe": probe, "herd.dev/probe-of": fleet };
}

/** Longest Pulumi name of a CronJob: Pulumi adds `-` and 8 characters, and Kubernetes allows 52 (it appends the Job's time). */
const CRONJOB_NAME_MAX = 52 - 9;

/**
 * The Pulumi name (and so the prefix of the Kubernetes name) of a probe's CronJob: a DNS label
 * (`stuck_jobs` → `stuck-jobs`), at most 43 characters, a hash of the whole keeping long names
 * apart once cut: `web-probe-stuck-jobs`.
 */
export function probeObjectName(fleet: string, probe: string): string {
    const full = `${fleet}-probe-${probe.replace(/_/g, "-")}`.replace(/-+$/, "");
    if (full.length <= CRONJOB_NAME_MAX) {
        return full;
    }
    const hash = createHash("sha256").update(`${fleet}\0${probe}`).digest("hex").slice(0, 8);
    return `${full.slice(0, CRONJOB_NAME_MAX - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}

/** The command a probe container runs once: the wrapper, with where to push. */
export function pushCommand(args: ProbeArgs, pushgateway: string): string[] {
    return [`${CONTAINER_PROBE_DIR}/${PUSH_PROBE_NAME}`, args.probe.name, probeMetric(args.probe), pushgateway, args.stack, args.fleet];
}

/** The CronJob spec of a probe on Kubernetes: locked down like herd's pods, one run at a time. */
export function buildProbeCronJobSpec(
    args: ProbeArgs,
    pushgateway: string,
    image: string,
    configMapName: pulumi.Input<string>,
    placement: { readonly nodeSelector?: Readonly<Record<string, string>>; readonly tolerations?: readonly Toleration[] } = {},
) {
    const nodeSelector = placement.nodeSelector ?? {};
    return {
        schedule: cronSchedule(args.probe.every),
        concurrencyPolicy: "Forbid",
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
            spec: {
                backoffLimit: 0,
                activeDeadlineSeconds: 300,
                template: {
                    metadata: { labels: probePodLabels(args.fleet, args.probe.name) },
                    spec: {
                        restartPolicy: "Never",
                        automountServiceAccountToken: false,
                        // Where the fleet runs, the probe can run: the same nodes, the same taints.
                        ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector: { ...nodeSelector } } : {}),
                        ...(placement.tolerations?.length ? { tolerations: placement.tolerations.map((t) => ({ ...t })) } : {}),
                        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
                        containers: [
                            {
                                name: "probe",
                                image,
                                command: pushCommand(args, pushgateway),
                                env: [{ name: "TMPDIR", value: "/tmp" }],
                                securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                                resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
                                volumeMounts: [
                                    { name: "scripts", mountPath: CONTAINER_PROBE_DIR, readOnly: true },
                                    { name: "tmp", mountPath: "/tmp" },
                                ],
                            },
                        ],
                        volumes: [
                            { name: "scripts", configMap: { name: configMapName, defaultMode: 0o555 } },
                            { name: "tmp", emptyDir: {} },
                        ],
                    },
                },
            },
        },
    };
}

/**
 * A probe: a small script that counts one failure mode, run on a schedule, published as a metric,
 * with its own alert ({@link Probe.alert}). On OpenStack the members run it (their user data
 * installs it), so this component only records it; on Kubernetes it is a CronJob whose script
 * comes from a ConfigMap; on Docker, a container that runs it in a loop. Kubernetes and Docker
 * probes push their counts to a Prometheus Pushgateway.
 */
export class Probe extends pulumi.ComponentResource {
    /** The metric the probe publishes. */
    readonly metric: string;
    /** The alert on it, for the stack's rule file or PrometheusRule. */
    readonly alert: AlertRule;
    /** Kubernetes: the ConfigMap holding the script and the wrapper. */
    readonly configMap?: k8s.core.v1.ConfigMap;
    /** Kubernetes: the CronJob that runs the probe. */
    readonly cronJob?: k8s.batch.v1.CronJob;
    /** Docker: the container that runs the probe in a loop. */
    readonly container?: docker.Container;

    constructor(name: string, args: ProbeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("herd:monitoring:Probe", name, {}, opts);
        const problems = [...probeSpecProblems(args.probe), ...(args.target.backend === "openstack" ? [] : pushgatewayProblems(args.target.pushgateway))];
        if (problems.length > 0) {
            throw new Error(`Probe "${name}": invalid arguments:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        }
        this.metric = probeMetric(args.probe);
        this.alert = probeAlert(args.probe, args.stack, args.fleet);
        const target = args.target;
        if (target.backend === "kubernetes") {
            // Loaded here: a stack without Kubernetes probes does not pay for the SDK.
            const kubernetes = require("@pulumi/kubernetes") as typeof k8s;
            const metadata = { namespace: target.namespace ?? "default", labels: probeLabels(args.fleet, args.probe.name) };
            // Kubernetes names the objects after these (plus Pulumi's suffix), so they must be
            // DNS labels; a name that had to change keeps its resource through an alias.
            const objectName = probeObjectName(args.fleet, args.probe.name);
            const renamed = (from: string, to: string) => (from === to ? {} : { aliases: [{ name: from }] });
            // Auto-named, so a new script gets a new ConfigMap and the CronJob follows it.
            this.configMap = new kubernetes.core.v1.ConfigMap(
                `${objectName}-scripts`,
                { metadata, data: { [args.probe.name]: args.probe.script, [PUSH_PROBE_NAME]: PUSH_PROBE_SCRIPT } },
                { parent: this, replaceOnChanges: ["data"], dependsOn: childDependsOn(opts), ...renamed(`${name}-scripts`, `${objectName}-scripts`) },
            );
            const spec = buildProbeCronJobSpec(args, target.pushgateway, target.image ?? DEFAULT_PROBE_IMAGE, this.configMap.metadata.name, target);
            this.cronJob = new kubernetes.batch.v1.CronJob(objectName, { metadata, spec }, { parent: this, dependsOn: childDependsOn(opts), ...renamed(name, objectName) });
        } else if (target.backend === "docker") {
            const dockerSdk = require("@pulumi/docker") as typeof docker;
            const seconds = durationSeconds(args.probe.every);
            // The wrapper's arguments follow the loop as data ("$@"), never pasted into the shell text.
            const command = ["sh", "-c", `while true; do "$@" || true; sleep ${seconds}; done`, "sh", ...pushCommand(args, target.pushgateway)];
            // Everything that recreates the container is in its name, so the new one never takes the old one's.
            const version = createHash("sha256")
                .update(JSON.stringify([args.probe.script, PUSH_PROBE_SCRIPT, command, target.image ?? DEFAULT_PROBE_IMAGE]))
                .digest("hex")
                .slice(0, 8);
            this.container = new dockerSdk.Container(
                name,
                {
                    // The scripts' hash in the name: a new script is a new container, created before the old one goes.
                    name: `${args.fleet}-probe-${args.probe.name.replace(/_/g, "-")}-${version}`,
                    image: target.image ?? DEFAULT_PROBE_IMAGE,
                    command,
                    user: "65534:65534",
                    envs: ["TMPDIR=/tmp"],
                    uploads: [
                        { file: `${CONTAINER_PROBE_DIR}/${args.probe.name}`, content: args.probe.script, executable: true },
                        { file: `${CONTAINER_PROBE_DIR}/${PUSH_PROBE_NAME}`, content: PUSH_PROBE_SCRIPT, executable: true },
                    ],
                    restart: "unless-stopped",
                    memory: 64,
                    securityOpts: ["no-new-privileges"],
                    labels: Object.entries(probeLabels(args.fleet, args.probe.name)).map(([label, value]) => ({ label, value })),
                    ...(target.network ? { networksAdvanced: [{ name: target.network }] } : {}),
                },
                { parent: this, replaceOnChanges: ["uploads", "command", "image"] },
            );
        }
        this.registerOutputs({ metric: this.metric, alert: this.alert });
    }
}
