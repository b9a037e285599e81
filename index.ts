import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import {
    defaultAlerts,
    DockerWorkload,
    KubernetesWorkload,
    parseKubernetesSettings,
    resolveFleets,
    ruleFile,
    ServerGroup,
} from "./components";

const stack = pulumi.getStack();

// Everything is validated (and every referenced file read) before the first resource exists,
// so a wrong config registers nothing.
const resolved = resolveFleets(new pulumi.Config("herd").getObject("fleets"), { stack, projectDir: __dirname });
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

/** The stack's Prometheus rule file: every fleet's default alerts (`promtool check rules` clean). */
export const alertRules = ruleFile(resolved.map((fleet) => defaultAlerts(fleet.alerts)));
