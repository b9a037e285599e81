import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import type { StackBuild, StackContext, StackFleet } from "../fleet/backend";
import type { KubernetesSettings } from "./schema";
import { containerProbeSettings } from "../fleet/plan";
import { buildNamespace, namespaceResourceName, namespacesToCreate } from "./namespaces";
import type { PlainNamespaceWorkloadArgs } from "./workload";

/**
 * The Kubernetes fleets of a stack program: one provider for every object, from
 * `herd:kubernetes` (none, the ambient kubeconfig, without it); the namespaces the fleets name,
 * created first unless `createNamespaces: false` says they exist, every object of a fleet waiting
 * for its namespace; and the probes' Pushgateway and image from `herd:monitoring`.
 */
export function kubernetesStackProgram(fleets: readonly StackFleet<PlainNamespaceWorkloadArgs>[], context: StackContext<KubernetesSettings>): (fleet: StackFleet<PlainNamespaceWorkloadArgs>) => StackBuild {
    const settings = context.settings;
    let provider: k8s.Provider | undefined;
    const kubernetesProvider = (): k8s.Provider | undefined => {
        if (settings && !provider) {
            const { createNamespaces: _, ...providerArgs } = settings;
            provider = new (require("@pulumi/kubernetes") as typeof k8s).Provider("kubernetes", providerArgs);
        }
        return provider;
    };
    const namespaces = new Map<string, k8s.core.v1.Namespace>();
    if (settings?.createNamespaces !== false && fleets.length > 0) {
        const { core } = require("@pulumi/kubernetes") as typeof k8s;
        const opts = kubernetesProvider() ? { provider: kubernetesProvider() } : {};
        for (const namespace of namespacesToCreate(fleets.map((fleet) => fleet.args.namespace ?? "default"))) {
            namespaces.set(namespace, new core.v1.Namespace(namespaceResourceName(namespace), buildNamespace(namespace), opts));
        }
    }
    const probeSettings = containerProbeSettings(context.monitoring);
    return (fleet) => {
        const created = namespaces.get(fleet.args.namespace ?? "default");
        const given = kubernetesProvider();
        const opts: pulumi.ComponentResourceOptions = { ...(given ? { providers: [given] } : {}), ...(created ? { dependsOn: [created] } : {}) };
        return { args: probeSettings, opts };
    };
}
