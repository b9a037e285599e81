import * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { isPulumiSecretKey, storedStackConfig } from "../config";
import { buildNamespace, namespaceResourceName, namespacesToCreate } from "../kubernetes/namespaces";
import { type BackendName, type FLEET_BACKENDS, fleetBackend } from "./backends";
import { alertRuleFile, buildFleet, type Fleet } from "./fleet";
import { type ResolvedFleet, resolveStack } from "./resolve";

/** Where {@link stackProgram} finds the stack's files. */
export interface StackProgramOptions {
    /**
     * The project folder: where `Pulumi.<stack>.yaml` and the files the stack config names
     * (`userData`, probe scripts, the kubeconfig) are. @default the working directory, where
     * `pulumi up` runs the program
     */
    readonly projectDir?: string;
}

/** What a stack shows of one fleet: its backend, the generation each slot (or role) runs, and how to reach it. */
export type FleetOutputs = { [B in BackendName]: ReturnType<(typeof FLEET_BACKENDS)[B]["outputs"]> }[BackendName];

/** The stack outputs of {@link stackProgram}. */
export interface StackProgramOutputs {
    /** Per fleet: its backend, the generation each slot (or role) runs, and how to reach it. */
    readonly fleets: Record<string, FleetOutputs>;
    /**
     * The stack's Prometheus rule file for the fleets outside Kubernetes (OpenStack, Docker), whose
     * Prometheus is configured by hand; Kubernetes fleets carry theirs as PrometheusRule objects.
     */
    readonly alertRules: string;
}

/** Under `pulumi up`, a herd error prints as one message (a `RunError`), not a stack trace. */
function oneMessage<T>(fleet: string, make: () => T): T {
    try {
        return make();
    } catch (err) {
        throw pulumi.RunError.isInstance(err) ? err : new pulumi.RunError(`herd: fleet ${fleet}: ${err instanceof Error ? err.message : String(err)}`);
    }
}

/**
 * The whole program of a stack driven by its config: every fleet of `herd:fleets` built with
 * {@link buildFleet} (workload, default alerts, monitoring objects, probes), on the backends
 * `herd:kubernetes`, `herd:openstack` and `docker:host` describe, with `herd:monitoring`'s
 * Pushgateway. herd's own `index.ts` is this call; a project that keeps its fleets in its stack
 * config, as herd's stacks do, can make it its program too.
 *
 * Everything is validated (and every referenced file read) before the first resource exists, so
 * a wrong config registers nothing and fails with one message naming the stack, key path, value
 * and what is allowed. Secret values (`pulumi config set --secret`, found from the stack file's
 * `secure:` entries) keep their secret marking to the members. OpenStack fleets wait for the
 * preflight (quota and compute hosts, where the environment reaches the cloud); a provider SDK
 * loads only when a fleet of its backend exists.
 *
 * @example
 * ```ts
 * // index.ts of a project whose fleets live in Pulumi.<stack>.yaml
 * import { stackProgram } from "pulumi-herd";
 * const stack = stackProgram({ projectDir: __dirname });
 * export const fleets = stack.fleets;
 * export const alertRules = stack.alertRules;
 * ```
 */
export function stackProgram(options: StackProgramOptions = {}): StackProgramOutputs {
    const stack = pulumi.getStack();
    const projectDir = options.projectDir ?? process.cwd();
    const config = new pulumi.Config("herd");
    const herdKeys = ["herd:fleets", "herd:monitoring", "herd:kubernetes", "herd:openstack"];
    const { fleets: resolved, monitoring, kubernetes, openstack } = resolveStack(
        {
            fleets: config.getObject("fleets"),
            monitoring: config.getObject("monitoring"),
            kubernetes: config.getObject("kubernetes"),
            openstack: config.getObject("openstack"),
        },
        { stack, projectDir, stored: storedStackConfig(projectDir, stack), secretKeys: herdKeys.filter(isPulumiSecretKey) },
    );
    const dockerHost = new pulumi.Config("docker").get("host");

    // One provider for every Kubernetes object, from herd:kubernetes; none (the ambient kubeconfig) without it.
    let provider: k8s.Provider | undefined;
    const kubernetesProvider = (): k8s.Provider | undefined => {
        if (kubernetes && !provider) {
            const { createNamespaces: _, ...settings } = kubernetes;
            provider = new (require("@pulumi/kubernetes") as typeof k8s).Provider("kubernetes", settings);
        }
        return provider;
    };

    // The namespaces the Kubernetes fleets name are created first (unless the stack says they exist),
    // and every object of a fleet waits for its namespace.
    const namespaces = new Map<string, k8s.core.v1.Namespace>();
    if (kubernetes?.createNamespaces !== false) {
        const kubernetesNamespaces = resolved.flatMap((fleet) => (fleet.backend === "kubernetes" ? [fleet.args.namespace ?? "default"] : []));
        if (kubernetesNamespaces.length > 0) {
            const { core } = require("@pulumi/kubernetes") as typeof k8s;
            const opts = kubernetesProvider() ? { provider: kubernetesProvider() } : {};
            for (const namespace of namespacesToCreate(kubernetesNamespaces)) {
                namespaces.set(namespace, new core.v1.Namespace(namespaceResourceName(namespace), buildNamespace(namespace), opts));
            }
        }
    }
    const kubernetesOptions = (namespace: string | undefined): pulumi.ComponentResourceOptions => {
        const created = namespaces.get(namespace ?? "default");
        const given = kubernetesProvider();
        return { ...(given ? { providers: [given] } : {}), ...(created ? { dependsOn: [created] } : {}) };
    };

    // Before any OpenStack resource is registered, the change is held against the project's quota
    // and compute hosts where the environment reaches the cloud (see programPreflight): every fleet
    // waits for it, and a refusal registers nothing. Not under mocks (herd plan, unit tests).
    let preflightGate: Promise<pulumi.Resource[]> | undefined;
    const openstackPreflight = (): Promise<pulumi.Resource[]> => {
        if (!preflightGate) {
            const { programPreflight } = require("../openstack/preflight") as typeof import("../openstack/preflight");
            const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as typeof import("@pulumi/pulumi/runtime/mocks");
            const mocked = pulumi.runtime.getMonitor() instanceof MockMonitor;
            const fleets = resolved.flatMap((fleet) => (fleet.backend === "openstack" ? [{ name: fleet.name, args: fleet.args }] : []));
            preflightGate = (mocked ? Promise.resolve() : programPreflight(stack, fleets, openstack ?? {}, process.env)).then(() => []);
        }
        return preflightGate;
    };

    // Container probes push to the Pushgateway; resolveStack refuses them without one.
    const probeSettings = {
        ...(monitoring?.pushgateway ? { pushgateway: monitoring.pushgateway } : {}),
        ...(monitoring?.probeImage ? { probeImage: monitoring.probeImage } : {}),
    };

    const build = (fleet: ResolvedFleet): Fleet => {
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
    };

    const built = resolved.map((fleet) => oneMessage(fleet.name, () => build(fleet)));
    return { fleets: Object.fromEntries(built.map((fleet) => [fleet.name, (fleetBackend(fleet.backend)?.outputs(fleet) as FleetOutputs)])), alertRules: alertRuleFile(built) };
}
