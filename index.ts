import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import {
    defaultAlerts,
    DockerWorkload,
    KubernetesMonitoring,
    KubernetesWorkload,
    parseKubernetesSettings,
    resolveFleets,
    ruleFile,
    ServerGroup,
} from "./components";

const stack = pulumi.getStack();

// Everything is validated (and every referenced file read) before the first resource exists,
// so a wrong config registers nothing. `herd plan --dir` sets HERD_PROJECT_DIR to evaluate
// another checkout of the project with this program.
const projectDir = process.env.HERD_PROJECT_DIR ?? __dirname;
const resolved = resolveFleets(new pulumi.Config("herd").getObject("fleets"), { stack, projectDir });
const kubernetes = parseKubernetesSettings(new pulumi.Config("herd").getObject("kubernetes"), stack);
const dockerHost = new pulumi.Config("docker").get("host");

let kubernetesProvider: k8s.Provider | undefined;
function kubernetesOptions(): pulumi.ComponentResourceOptions {
    if (!kubernetes) {
        return {};
    }
    kubernetesProvider ??= new k8s.Provider("kubernetes", kubernetes);
    return { providers: [kubernetesProvider] };
}

function build(fleet: (typeof resolved)[number]) {
    switch (fleet.backend) {
        case "openstack": {
            const group = new ServerGroup(fleet.name, fleet.args);
            return {
                backend: fleet.backend,
                generations: group.generations,
                servers: group.servers,
                loadBalancerAddress: group.loadBalancerAddress,
            };
        }
        case "kubernetes": {
            const workload = new KubernetesWorkload(fleet.name, fleet.args, kubernetesOptions());
            new KubernetesMonitoring(
                `${fleet.name}-monitoring`,
                { stack, fleet: fleet.name, namespace: fleet.args.namespace, rules: defaultAlerts(fleet.alerts) },
                kubernetesOptions(),
            );
            return {
                backend: fleet.backend,
                generations: workload.generations,
                replicas: workload.replicas,
                serviceName: workload.serviceName,
            };
        }
        case "docker": {
            const workload = new DockerWorkload(fleet.name, { ...fleet.args, ...(dockerHost ? { host: dockerHost } : {}) });
            return {
                backend: fleet.backend,
                generations: workload.generations,
                containers: workload.containerNames,
            };
        }
    }
}

/** Per fleet: its backend, the generation each slot (or role) runs, and how to reach it. */
export const fleets = Object.fromEntries(resolved.map((fleet) => [fleet.name, build(fleet)]));

/**
 * The stack's Prometheus rule file for the fleets outside Kubernetes (OpenStack, Docker), whose
 * Prometheus is configured by hand; Kubernetes fleets carry theirs as PrometheusRule objects.
 */
export const alertRules = ruleFile(resolved.filter((fleet) => fleet.backend !== "kubernetes").map((fleet) => defaultAlerts(fleet.alerts)));
