import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { FAILED_CREATE, MemberPlan, planMembers, RELEASE_PROPERTIES, ServerGroupArgs, ServerRelease } from "../components/openstack";
import { renderRelease } from "../components/openstack/members";
import { parseCloudConfig } from "../components/openstack/userData";
import { instanceSpec, serverGroupSpec } from "../components/openstack/instances";
import {
    listenerSpec,
    LoadBalancerPlan,
    loadBalancerSpec,
    monitorSpec,
    networkId,
    planLoadBalancer,
    poolMemberSpec,
    poolSpec,
} from "../components/openstack/loadBalancer";
import { ingressRules, ingressRuleSpecs, securityGroupSpec } from "../components/openstack/securityGroup";
import { attachmentSpec, volumeSpec } from "../components/openstack/volumes";

const UUID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
const v1: ServerRelease = { image: "debian-12-web-1", flavor: "b3-8", networks: ["int-net", "ext-net"], keyPair: "ops" };
const v2: ServerRelease = { ...v1, image: "debian-12-web-2" };

/** The planned members of a fleet `web` of `size` running `release`. */
const plan = (release: ServerRelease, size = 4): MemberPlan[] => planMembers("web", { size, release, batch: 2, securityGroupName: "herd-web" });

/** The value of an Output, outside a deployment (where every value is known). */
const valueOf = <T>(output: pulumi.Output<T>): Promise<T> => new Promise((resolve) => output.apply(resolve));

describe("OpenStack builders: security group", () => {
    it("builds the fleet's own group, named for the cloud by the group name", () => {
        expect(securityGroupSpec("web", "herd-web")).to.deep.equal({
            resourceName: "web-secgroup",
            args: { name: "herd-web", description: "herd fleet web" },
            opts: {},
        });
    });

    const defaults: [string, Pick<ServerGroupArgs, "ingress" | "health">, unknown[]][] = [
        ["opens the HTTP check's port to all", { health: { path: "/healthz", port: 8080 } }, [{ port: 8080, cidr: "0.0.0.0/0" }]],
        ["opens the TCP check's port to all", { health: { port: 6379 } }, [{ port: 6379, cidr: "0.0.0.0/0" }]],
        ["opens nothing without a health check", {}, []],
        ["keeps the rules given instead of the health port", { health: { port: 80 }, ingress: [{ port: 22, cidr: "10.0.0.0/8" }] }, [{ port: 22, cidr: "10.0.0.0/8" }]],
        ["opens nothing when given no rules, health check or not", { health: { port: 80 }, ingress: [] }, []],
    ];
    for (const [title, args, expected] of defaults) {
        it(`ingress ${title}`, () => {
            expect(ingressRules(args)).to.deep.equal(expected);
        });
    }

    it("builds one rule per ingress rule, named by what it opens, tcp unless told", () => {
        const specs = ingressRuleSpecs("web", { ingress: [{ port: 80, cidr: "0.0.0.0/0" }, { port: 53, protocol: "udp", cidr: "192.168.1.0/24" }] }, "sg-id");
        expect(specs).to.deep.equal([
            {
                resourceName: "web-ingress-tcp-80-0-0-0-0-0",
                args: {
                    securityGroupId: "sg-id",
                    direction: "ingress",
                    ethertype: "IPv4",
                    protocol: "tcp",
                    portRangeMin: 80,
                    portRangeMax: 80,
                    remoteIpPrefix: "0.0.0.0/0",
                },
                opts: {},
            },
            {
                resourceName: "web-ingress-udp-53-192-168-1-0-24",
                args: {
                    securityGroupId: "sg-id",
                    direction: "ingress",
                    ethertype: "IPv4",
                    protocol: "udp",
                    portRangeMin: 53,
                    portRangeMax: 53,
                    remoteIpPrefix: "192.168.1.0/24",
                },
                opts: {},
            },
        ]);
    });

    it("builds the default rule from the health port", () => {
        const [rule] = ingressRuleSpecs("web", { health: { path: "/healthz", port: 8080 } }, "sg-id");
        expect(rule.resourceName).to.equal("web-ingress-tcp-8080-0-0-0-0-0");
        expect([rule.args.portRangeMin, rule.args.portRangeMax, rule.args.remoteIpPrefix]).to.deep.equal([8080, 8080, "0.0.0.0/0"]);
    });
});

describe("OpenStack builders: servers", () => {
    it("builds the Nova server group, soft anti-affinity unless told", () => {
        expect(serverGroupSpec("web", "herd-web", undefined)).to.deep.equal({
            resourceName: "web-group",
            args: { name: "herd-web", policies: ["soft-anti-affinity"] },
            opts: {},
        });
        expect(serverGroupSpec("web", "herd-web", "anti-affinity").args.policies).to.deep.equal(["anti-affinity"]);
    });

    it("builds a member's server in the Nova group, replaced by its generation, its release or a failed create", () => {
        const member = plan(v1)[1];
        const spec = instanceSpec("web", member, { "herd-stack": "prod", "herd-slot": "mine" }, "group-id", true);
        expect(spec.resourceName).to.equal("web-1");
        expect(spec.args).to.deep.include({
            name: member.serverName,
            imageName: "debian-12-web-1",
            flavorName: "b3-8",
            keyPair: "ops",
            networks: [{ name: "int-net" }, { name: "ext-net" }],
            securityGroups: ["herd-web"],
            schedulerHints: [{ group: "group-id" }],
        });
        expect(spec.args.metadata).to.deep.equal({ "herd-stack": "prod", "herd-fleet": "web", "herd-slot": "1", "herd-generation": member.generation });
        expect(spec.opts).to.deep.equal({
            replaceOnChanges: [...RELEASE_PROPERTIES, FAILED_CREATE],
            replacementTrigger: member.generation,
            deleteBeforeReplace: true,
        });
        expect(instanceSpec("web", member, undefined, "group-id", false).opts.deleteBeforeReplace).to.equal(false);
    });
});

describe("OpenStack builders: load balancer", () => {
    const health = { path: "/healthz", port: 8080 } as const;

    it("plans no load balancer without one, or without a health check", () => {
        expect(planLoadBalancer("web", "herd-web", { release: v1, health })).to.equal(undefined);
        expect(planLoadBalancer("web", "herd-web", { release: v1, loadBalancer: { port: 80 } })).to.equal(undefined);
    });

    it("puts the VIP on the release's first network and listens over HTTP unless told", () => {
        expect(planLoadBalancer("web", "herd-web", { release: v1, health, loadBalancer: { port: 80 } })).to.deep.equal({
            fleet: "web",
            groupName: "herd-web",
            protocol: "HTTP",
            port: 80,
            vipNetwork: "int-net",
            health,
        });
        const given = planLoadBalancer("web", "herd-web", { release: v1, health, loadBalancer: { port: 443, protocol: "TCP", network: "lb-net" } });
        expect([given?.protocol, given?.vipNetwork]).to.deep.equal(["TCP", "lb-net"]);
    });

    it("looks a VIP network up by name, once it is known, and takes a UUID as its ID", async () => {
        const asked: string[] = [];
        const byName = (name: string) => {
            asked.push(name);
            return pulumi.output(`id-of-${name}`);
        };
        expect(await valueOf(networkId("ext-net", byName))).to.equal("id-of-ext-net");
        expect(await valueOf(networkId(pulumi.output("wired-net"), byName))).to.equal("id-of-wired-net");
        expect(await valueOf(networkId(UUID, byName))).to.equal(UUID);
        expect(await valueOf(networkId(pulumi.output(UUID), byName))).to.equal(UUID);
        expect(asked).to.deep.equal(["ext-net", "wired-net"]);
    });

    const http = planLoadBalancer("web", "herd-web", { release: v1, health, loadBalancer: { port: 80 } }) as LoadBalancerPlan;

    it("builds the load balancer, its listener and its pool, named for the cloud by the group name", () => {
        expect(loadBalancerSpec(http, "net-id")).to.deep.equal({ resourceName: "web-lb", args: { name: "herd-web", vipNetworkId: "net-id" }, opts: {} });
        expect(listenerSpec(http, "lb-id")).to.deep.equal({
            resourceName: "web-listener",
            args: { name: "herd-web", loadbalancerId: "lb-id", protocol: "HTTP", protocolPort: 80 },
            opts: {},
        });
        expect(poolSpec(http, "listener-id")).to.deep.equal({
            resourceName: "web-pool",
            args: { name: "herd-web", listenerId: "listener-id", protocol: "HTTP", lbMethod: "ROUND_ROBIN" },
            opts: {},
        });
    });

    const monitors: [string, Pick<ServerGroupArgs, "health" | "loadBalancer">, Record<string, unknown>][] = [
        [
            "GETs the path of an HTTP check behind an HTTP listener",
            { health, loadBalancer: { port: 80 } },
            { type: "HTTP", urlPath: "/healthz", httpMethod: "GET", expectedCodes: "200" },
        ],
        [
            "GETs the path of an HTTP check behind an HTTPS listener",
            { health, loadBalancer: { port: 443, protocol: "HTTPS" } },
            { type: "HTTP", urlPath: "/healthz", httpMethod: "GET", expectedCodes: "200" },
        ],
        ["only connects behind a TCP listener, even for an HTTP check", { health, loadBalancer: { port: 443, protocol: "TCP" } }, { type: "TCP" }],
        ["only connects for a TCP check, even behind an HTTP listener", { health: { port: 6379 }, loadBalancer: { port: 80 } }, { type: "TCP" }],
    ];
    for (const [title, args, check] of monitors) {
        it(`monitor ${title}`, () => {
            const lb = planLoadBalancer("web", "herd-web", { release: v1, ...args }) as LoadBalancerPlan;
            expect(monitorSpec(lb, "pool-id")).to.deep.equal({
                resourceName: "web-monitor",
                args: { name: "herd-web", poolId: "pool-id", ...check, delay: 5, timeout: 3, maxRetries: 3 },
                opts: {},
            });
        });
    }

    it("puts a member in the pool on the health port of its server's address, named as its server", () => {
        const member = plan(v1)[2];
        expect(poolMemberSpec(http, member, "pool-id", "10.0.0.12", false)).to.deep.equal({
            resourceName: "web-2-lb",
            args: { name: member.serverName, poolId: "pool-id", address: "10.0.0.12", protocolPort: 8080, monitorPort: 8080 },
            opts: { replaceOnChanges: ["address", FAILED_CREATE], deleteBeforeReplace: false },
        });
        expect(poolMemberSpec(http, member, "pool-id", "10.0.0.12", true).opts.deleteBeforeReplace).to.equal(true);
    });
});

describe("OpenStack builders: volumes", () => {
    it("names a slot's volume by slot, not generation: every release of the slot gets the same one, protected and kept", () => {
        const [before, after] = [plan(v1)[3], plan(v2)[3]];
        expect(before.generation).to.not.equal(after.generation);
        const expected = {
            resourceName: "web-3-data",
            args: { name: "web-3-data", size: 20, volumeType: "ssd", metadata: { "herd-fleet": "web", "herd-slot": "3" } },
            opts: { protect: true, retainOnDelete: true },
        };
        expect(volumeSpec("web", before, { size: 20, type: "ssd" })).to.deep.equal(expected);
        expect(volumeSpec("web", after, { size: 20, type: "ssd" })).to.deep.equal(expected);
    });

    it("leaves the volume type to the cloud unless given", () => {
        expect(volumeSpec("web", plan(v1)[0], { size: 5 }).args).to.deep.equal({
            name: "web-0-data",
            size: 5,
            metadata: { "herd-fleet": "web", "herd-slot": "0" },
        });
    });

    it("attaches the slot's volume to its server, detaching the old one first", () => {
        expect(attachmentSpec(plan(v1)[1], "server-id", "volume-id")).to.deep.equal({
            resourceName: "web-1-data",
            args: { instanceId: "server-id", volumeId: "volume-id" },
            opts: { deleteBeforeReplace: true, replaceOnChanges: [FAILED_CREATE] },
        });
    });
});

describe("OpenStack releases rendered once, by what they hold", () => {
    const userData = "#cloud-config\npackages: [nginx]\n";
    const render = (release: ServerRelease, probes: { name: string; script: string; every: string }[] = []) =>
        renderRelease("web", release, { securityGroupName: "herd-web", probes }, "release");

    it("gives the same frozen rendering for the same release, and a new one when any of its values changes", () => {
        const release = { ...v1, userData };
        const first = render(release);
        expect(render({ ...release, networks: [...release.networks] })).to.equal(first);
        expect(Object.isFrozen(first) && Object.isFrozen(first.resolved) && Object.isFrozen(first.resolved.networks)).to.equal(true);
        expect(() => (first.resolved.networks as string[]).push("other-net")).to.throw(TypeError);
        // The same object, changed by its caller between two renderings: rendered anew, not remembered by identity.
        const mutable = { ...release, networks: ["int-net", "ext-net"] };
        expect(render(mutable).generation).to.equal(first.generation);
        mutable.networks[1] = "other-net";
        expect(render(mutable).generation).not.to.equal(first.generation);
        expect(render({ ...release, userData: `${userData}runcmd: [[true]]\n` }).userData).to.include("runcmd");
        expect(render({ ...release, securityGroups: ["extra"] }).resolved.securityGroups).to.deep.equal(["herd-web", "extra"]);
        const probed = render(release, [{ name: "disk", script: "#!/bin/sh\necho 0\n", every: "1m" }]);
        expect(probed.generation).not.to.equal(first.generation);
        expect(probed.userData).to.include("disk");
        expect(renderRelease("api", release, { securityGroupName: "herd-web" }, "release").userData).to.include('fleet="api"');
    });

    it("renders a release wired from another resource every time, keeping its Output", async () => {
        const wired = { ...v1, userData: pulumi.output(userData) };
        const a = render(wired);
        expect(render(wired)).not.to.equal(a);
        expect(await valueOf(a.deployedUserData!)).to.include("nginx");
    });

    it("refuses a bad document every time it is rendered, and parses a document once, frozen", () => {
        for (let i = 0; i < 2; i++) {
            expect(() => render({ ...v1, userData: "#cloud-config\nkey: [unclosed\n" })).to.throw(/release\.userData is not valid YAML/);
        }
        const parsed = parseCloudConfig(userData);
        expect(parseCloudConfig(userData)).to.equal(parsed);
        expect(Object.isFrozen(parsed) && Object.isFrozen(parsed.packages)).to.equal(true);
        expect(parsed).to.deep.equal({ packages: ["nginx"] });
    });
});
