import * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { isPulumiSecretKey, ResolvedFleet, resolveStack, storedStackConfig } from "./components/config";
import type * as DockerBackend from "./components/docker/workload";
import type * as KubernetesBackend from "./components/kubernetes";
import { defaultAlerts, Probe, ProbeTarget, ruleFile } from "./components/monitoring";
import type * as OpenStackBackend from "./components/openstack/serverGroup";

const stack = pulumi.getStack();
// `herd plan` evaluates this program for another revision's files; Pulumi runs it from here.
const projectDir = process.env.HERD_PROJECT_DIR ?? __dirname;

// Everything is validated (and every referenced file read) before the first resource exists,
// so a wrong config registers nothing. Secret values are found from the stack file's `secure:`
// entries and keep their secret marking to the members (see components/release/secrets.ts).
const config = new pulumi.Config("herd");
const herdKeys = ["herd:fleets", "herd:monitoring", "herd:kubernetes", "herd:openstack"];
const {
    fleets: resolved,
    monitoring,
    kubernetes,
    openstack,
} = resolveStack(
    {
        fleets: config.getObject("fleets"),
        monitoring: config.getObject("monitoring"),
        kubernetes: config.getObject("kubernetes"),
        openstack: config.getObject("openstack"),
    },
    { stack, projectDir, stored: storedStackConfig(projectDir, stack), secretKeys: herdKeys.filter(isPulumiSecretKey) },
);
const dockerHost = new pulumi.Config("docker").get("host");

// Each backend's provider SDK takes a second or more to load: load only those the stack uses.
const openstackBackend = () => require("./components/openstack/serverGroup") as typeof OpenStackBackend;
const kubernetesBackend = () => require("./components/kubernetes") as typeof KubernetesBackend;
const dockerBackend = () => require("./components/docker/workload") as typeof DockerBackend;

// One provider for every Kubernetes object, from herd:kubernetes; none (the ambient kubeconfig) without it.
let provider: k8s.Provider | undefined;
function kubernetesProvider(): k8s.Provider | undefined {
    if (kubernetes && !provider) {
        const { createNamespaces: _, ...settings } = kubernetes;
        provider = new (require("@pulumi/kubernetes") as typeof k8s).Provider("kubernetes", settings);
    }
    return provider;
}

// The namespaces the Kubernetes fleets name are created first (unless the stack says they exist),
// and every object of a fleet waits for its namespace.
const namespaces = new Map<string, k8s.core.v1.Namespace>();
if (kubernetes?.createNamespaces !== false) {
    const kubernetesFleets = resolved.flatMap((fleet) => (fleet.backend === "kubernetes" ? [fleet.args.namespace ?? "default"] : []));
    if (kubernetesFleets.length > 0) {
        const { buildNamespace, namespaceResourceName, namespacesToCreate } = kubernetesBackend();
        const { core } = require("@pulumi/kubernetes") as typeof k8s;
        const opts = kubernetesProvider() ? { provider: kubernetesProvider() } : {};
        for (const namespace of namespacesToCreate(kubernetesFleets)) {
            namespaces.set(namespace, new core.v1.Namespace(namespaceResourceName(namespace), buildNamespace(namespace), opts));
        }
    }
}
/** Options of a Kubernetes fleet's components: the stack's provider, and its namespace to wait for. */
function kubernetesOptions(namespace: string | undefined): pulumi.ComponentResourceOptions {
    const created = namespaces.get(namespace ?? "default");
    const given = kubernetesProvider();
    return { ...(given ? { providers: [given] } : {}), ...(created ? { dependsOn: [created] } : {}) };
}

/** The fleet's probes, run where the fleet runs (see `Probe`). */
function probes(fleet: ResolvedFleet, target: ProbeTarget, opts: pulumi.ComponentResourceOptions = {}): void {
    for (const probe of fleet.alerts.probes ?? []) {
        new Probe(`${fleet.name}-probe-${probe.name}`, { stack, fleet: fleet.name, probe, target }, opts);
    }
}

// Before any OpenStack resource is registered, the change is held against the project's quota
// and compute hosts where the environment reaches the cloud (see programPreflight): every fleet
// waits for it, and a refusal registers nothing. Not under mocks (herd plan, unit tests).
let preflightGate: Promise<pulumi.Resource[]> | undefined;
function openstackPreflight(): Promise<pulumi.Resource[]> {
    if (!preflightGate) {
        const { programPreflight } = require("./components/openstack/preflight") as typeof import("./components/openstack/preflight");
        const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as typeof import("@pulumi/pulumi/runtime/mocks");
        const mocked = pulumi.runtime.getMonitor() instanceof MockMonitor;
        const fleets = resolved.flatMap((fleet) => (fleet.backend === "openstack" ? [{ name: fleet.name, args: fleet.args }] : []));
        preflightGate = (mocked ? Promise.resolve() : programPreflight(stack, fleets, openstack ?? {}, process.env)).then(() => []);
    }
    return preflightGate;
}

// Container probes push to the Pushgateway; resolveFleets refuses them without one.
const pushgateway = monitoring?.pushgateway ?? "";
const probeImage = monitoring?.probeImage ? { image: monitoring.probeImage } : {};

function build(fleet: ResolvedFleet) {
    switch (fleet.backend) {
        case "openstack": {
            const group = new (openstackBackend().ServerGroup)(fleet.name, fleet.args, { dependsOn: openstackPreflight() });
            probes(fleet, { backend: "openstack" });
            return {
                backend: fleet.backend,
                generations: group.generations,
                servers: group.servers,
                loadBalancerAddress: group.loadBalancerAddress,
            };
        }
        case "kubernetes": {
            const { KubernetesMonitoring, KubernetesWorkload, kubernetesMembersUp, scrapePort } = kubernetesBackend();
            const { namespace, nodeSelector, tolerations } = fleet.args;
            const workload = new KubernetesWorkload(fleet.name, fleet.args, kubernetesOptions(namespace));
            // A fleet whose pods serve no metrics is counted by kube-state-metrics, not by scrapes that never come.
            const metricsPort = scrapePort(workload.workload);
            const metrics = workload.workload.metrics;
            new KubernetesMonitoring(
                `${fleet.name}-monitoring`,
                {
                    stack,
                    fleet: fleet.name,
                    namespace,
                    metricsPort: metricsPort ?? false,
                    ...(metrics ? { metricsPath: metrics.path } : {}),
                    rules: defaultAlerts(metricsPort === undefined ? { ...fleet.alerts, membersUp: kubernetesMembersUp({ fleet: fleet.name, namespace }) } : fleet.alerts),
                },
                kubernetesOptions(namespace),
            );
            probes(
                fleet,
                {
                    backend: "kubernetes",
                    namespace,
                    pushgateway,
                    ...probeImage,
                    ...(nodeSelector ? { nodeSelector } : {}),
                    ...(tolerations ? { tolerations } : {}),
                },
                kubernetesOptions(namespace),
            );
            return {
                backend: fleet.backend,
                generations: workload.generations,
                replicas: workload.replicas,
                serviceName: workload.serviceName,
            };
        }
        case "docker": {
            const workload = new (dockerBackend().DockerWorkload)(fleet.name, { ...fleet.args, ...(dockerHost ? { host: dockerHost } : {}) });
            probes(fleet, { backend: "docker", pushgateway, network: workload.network.name, ...probeImage }, { provider: workload.provider });
            return {
                backend: fleet.backend,
                generations: workload.generations,
                containers: workload.containerNames,
            };
        }
    }
}

/** Under `pulumi up`, a herd error prints as one message (a `RunError`), not a stack trace. */
function oneMessage<T>(fleet: string, make: () => T): T {
    try {
        return make();
    } catch (err) {
        throw pulumi.RunError.isInstance(err) ? err : new pulumi.RunError(`herd: fleet ${fleet}: ${err instanceof Error ? err.message : String(err)}`);
    }
}

/** Per fleet: its backend, the generation each slot (or role) runs, and how to reach it. */
export const fleets = Object.fromEntries(resolved.map((fleet) => [fleet.name, oneMessage(fleet.name, () => build(fleet))]));

/**
 * The stack's Prometheus rule file for the fleets outside Kubernetes (OpenStack, Docker), whose
 * Prometheus is configured by hand; Kubernetes fleets carry theirs as PrometheusRule objects.
 */
export const alertRules = ruleFile(resolved.filter((fleet) => fleet.backend !== "kubernetes").map((fleet) => defaultAlerts(fleet.alerts)));
