import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";

/** What the baseline takes as given: the strings a hand-written program would carry as constants. */
export interface OpenStackTemplate {
    readonly size: number;
    readonly batch: number;
    readonly generation: string;
    readonly userData: string;
    readonly groupName: string;
    readonly stack: string;
    readonly image: string;
    readonly network: string;
}

/**
 * The same OpenStack fleet as herd builds it, written as plain Pulumi code: the same resource
 * types, names, inputs and options (replaceOnChanges, batches through dependsOn), no components.
 */
export function openstackBaseline(t: OpenStackTemplate) {
    const group = new openstack.compute.ServerGroup("web-group", { name: t.groupName, policies: ["soft-anti-affinity"] });
    const secgroup = new openstack.networking.SecGroup("web-secgroup", { name: t.groupName, description: "herd fleet web" });
    const rule = new openstack.networking.SecGroupRule("web-ingress-tcp-80-0-0-0-0-0", {
        securityGroupId: secgroup.id,
        direction: "ingress",
        ethertype: "IPv4",
        protocol: "tcp",
        portRangeMin: 80,
        portRangeMax: 80,
        remoteIpPrefix: "0.0.0.0/0",
    });
    const lb = new openstack.loadbalancer.LoadBalancer("web-lb", { name: t.groupName, vipNetworkId: t.network });
    const listener = new openstack.loadbalancer.Listener("web-listener", { name: t.groupName, loadbalancerId: lb.id, protocol: "HTTP", protocolPort: 80 });
    const pool = new openstack.loadbalancer.Pool("web-pool", { name: t.groupName, listenerId: listener.id, protocol: "HTTP", lbMethod: "ROUND_ROBIN" });
    new openstack.loadbalancer.Monitor("web-monitor", {
        name: t.groupName,
        poolId: pool.id,
        type: "HTTP",
        urlPath: "/healthz",
        httpMethod: "GET",
        expectedCodes: "200",
        delay: 5,
        timeout: 3,
        maxRetries: 3,
    });
    // "#initerror": a member whose create failed is replaced by the next up (see FAILED_CREATE).
    const replaceOnChanges = ["imageId", "imageName", "flavorId", "flavorName", "keyPair", "networks", "securityGroups", "userData", "schedulerHints", "#initerror"];
    const ips: pulumi.Output<string>[] = [];
    let previousBatch: pulumi.Resource[] = [rule];
    let currentBatch: pulumi.Resource[] = [];
    for (let slot = 0; slot < t.size; slot++) {
        if (slot > 0 && slot % t.batch === 0) {
            previousBatch = currentBatch;
            currentBatch = [];
        }
        const name = `web-${slot}-${t.generation}`;
        const server = new openstack.compute.Instance(
            `web-${slot}`,
            {
                name,
                imageId: t.image,
                flavorName: "b3-8",
                keyPair: "ops",
                networks: [{ uuid: t.network }],
                securityGroups: [t.groupName],
                userData: t.userData,
                metadata: { "herd-stack": t.stack, "herd-fleet": "web", "herd-slot": String(slot), "herd-generation": t.generation },
                tags: ["herd-fleet=web", `herd-generation=${t.generation}`],
                schedulerHints: [{ group: group.id }],
            },
            { dependsOn: previousBatch, replaceOnChanges, replacementTrigger: t.generation, deleteBeforeReplace: false },
        );
        const member = new openstack.loadbalancer.Member(
            `web-${slot}-lb`,
            { name, poolId: pool.id, address: server.accessIpV4, protocolPort: 80, monitorPort: 80 },
            { replaceOnChanges: ["address", "#initerror"], deleteBeforeReplace: false },
        );
        ips.push(server.accessIpV4);
        currentBatch.push(server, member);
    }
    return { ips: pulumi.all(ips), address: lb.vipAddress };
}

