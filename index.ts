import * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { isPulumiSecretKey, ResolvedFleet, resolveStack, storedStackConfig } from "./components/config";
import { alertRuleFile, buildFleet, type Fleet } from "./components/fleet";
import { buildNamespace, namespaceResourceName, namespacesToCreate } from "./components/kubernetes/namespaces";

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

// Each backend's provider SDK takes a second or more to load: only a stack with Kubernetes fleets loads it.
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

// Container probes push to the Pushgateway; resolveStack refuses them without one.
const probeSettings = {
    ...(monitoring?.pushgateway ? { pushgateway: monitoring.pushgateway } : {}),
    ...(monitoring?.probeImage ? { probeImage: monitoring.probeImage } : {}),
};

/** A fleet of the stack: its workload, default alerts, monitoring objects and probes (see `buildFleet`). */
function build(fleet: ResolvedFleet): Fleet {
    // The alerts as the stack config resolves them; the fleet gives its stack, name, size and probes itself.
    const { stack: _stack, fleet: _fleet, size: _size, probes: _probes, ...alerts } = fleet.alerts;
    const watched = { stack, alerts };
    switch (fleet.backend) {
        case "openstack":
            return buildFleet(fleet.name, { backend: fleet.backend, ...fleet.args, ...watched }, { dependsOn: openstackPreflight() });
        case "kubernetes":
            return buildFleet(
                fleet.name,
                { backend: fleet.backend, ...fleet.args, ...watched, probes: fleet.alerts.probes ?? [], ...probeSettings },
                kubernetesOptions(fleet.args.namespace),
            );
        case "docker":
            return buildFleet(fleet.name, {
                backend: fleet.backend,
                ...fleet.args,
                ...(dockerHost ? { host: dockerHost } : {}),
                ...watched,
                probes: fleet.alerts.probes ?? [],
                ...probeSettings,
            });
    }
}

/** What the stack shows of a fleet: its backend, the generation each slot (or role) runs, and how to reach it. */
function outputsOf(fleet: Fleet) {
    switch (fleet.backend) {
        case "openstack":
            return {
                backend: fleet.backend,
                generations: fleet.workload.generations,
                servers: fleet.workload.servers,
                loadBalancerAddress: fleet.workload.loadBalancerAddress,
            };
        case "kubernetes":
            return {
                backend: fleet.backend,
                generations: fleet.workload.generations,
                replicas: fleet.workload.replicas,
                serviceName: fleet.workload.serviceName,
            };
        case "docker":
            return {
                backend: fleet.backend,
                generations: fleet.workload.generations,
                containers: fleet.workload.containerNames,
            };
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

const built = resolved.map((fleet) => oneMessage(fleet.name, () => build(fleet)));

/** Per fleet: its backend, the generation each slot (or role) runs, and how to reach it. */
export const fleets = Object.fromEntries(built.map((fleet) => [fleet.name, outputsOf(fleet)]));

/**
 * The stack's Prometheus rule file for the fleets outside Kubernetes (OpenStack, Docker), whose
 * Prometheus is configured by hand; Kubernetes fleets carry theirs as PrometheusRule objects.
 */
export const alertRules = alertRuleFile(built);
