import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import type * as openstackTypes from "@pulumi/openstack";
import { buildFleet } from "../components/fleet";
import { KubernetesWorkload, KubernetesWorkloadArgs } from "../components/kubernetes";
import { deployTimePlaceholder, planMembers, ServerGroup, ServerRelease } from "../components/openstack";
import { isSecret, ProgramRun, RecordedResource, runProgram } from "../components/testing";

/**
 * Release values wired from other resources in code (`network.id`, a secret key pair name):
 * registered as they resolve, kept secret when secret, hashed into the generation as a placeholder
 * naming their place (so the generation is the same on every run), and replacing the members
 * through `replaceOnChanges` when they change.
 */

const INSTANCE = "openstack:compute/instance:Instance";
const NETWORK = "openstack:networking/network:Network";
const NETWORK_ID = "6d1f0b7e-3c1a-4c57-9a7e-0d5c8b1f2e3a";
const OTHER_NETWORK_ID = "0b7e6d1f-1a3c-4c57-9a7e-2e3a0d5c8b1f";
const release: ServerRelease = { image: "debian-12-web-1", flavor: "b3-8", networks: ["ext-net"], keyPair: "ops" };

const slotOf = (r: RecordedResource) => Number(r.name.split("-").pop());
const instances = (run: ProgramRun) => run.ofType(INSTANCE).sort((a, b) => slotOf(a) - slotOf(b));

/** A fleet whose first network is created in the same program, and whose release is otherwise `overrides`. */
function wired(overrides: (network: openstackTypes.networking.Network) => Partial<ServerRelease> = () => ({}), networkId = NETWORK_ID) {
    return runProgram({
        program: () => {
            const openstack = require("@pulumi/openstack") as typeof import("@pulumi/openstack");
            const network = new openstack.networking.Network("private", { name: "private" });
            const fleet = new ServerGroup("web", {
                size: 3,
                release: { ...release, networks: [network.id, "ext-net"], ...overrides(network) },
            });
            return { generations: fleet.generations };
        },
        stack: "test",
        config: {},
        id: (args) => (args.type === NETWORK ? networkId : undefined),
    });
}

describe("release values wired from other resources (OpenStack)", () => {
    it("registers the resolved network ID, in the release's order, on every member", async () => {
        const run = await wired();
        expect(run.ofType(NETWORK)).to.have.length(1);
        for (const member of instances(run)) {
            expect(member.inputs.networks).to.deep.equal([{ uuid: NETWORK_ID }, { name: "ext-net" }]);
            expect(member.options.dependsOn).to.include(run.ofType(NETWORK)[0].urn);
        }
    });

    it("hashes a value known at deploy time as a placeholder naming its place: the generation is the same on every run and for every value", async () => {
        const first = await wired();
        const second = await wired();
        const moved = await wired(() => ({}), OTHER_NETWORK_ID);
        const generations = (run: ProgramRun) => instances(run).map((m) => m.options.replacementTrigger);
        expect(generations(second)).to.deep.equal(generations(first));
        expect(generations(moved)).to.deep.equal(generations(first));
        expect(JSON.stringify(instances(second).map((m) => m.inputs))).to.equal(JSON.stringify(instances(first).map((m) => m.inputs)));
        expect(instances(moved)[0].inputs.networks).to.deep.equal([{ uuid: OTHER_NETWORK_ID }, { name: "ext-net" }]);

        const placeholder = deployTimePlaceholder("networks[0]");
        expect(placeholder).to.equal("networks[0]: an input known at deploy time");
        const plan = (networks: string[]) =>
            planMembers("web", { size: 1, release: { ...release, networks }, securityGroupName: "herd-web" })[0].generation;
        expect(generations(first)[0]).to.equal(plan([placeholder, "ext-net"]));
        expect(generations(first)[0]).to.not.equal(plan([NETWORK_ID, "ext-net"]));
    });

    it("replaces the members when a wired value changes: replaceOnChanges carries networks, securityGroups and keyPair", async () => {
        const run = await wired((network) => ({ keyPair: network.name, securityGroups: [network.name] }));
        for (const member of instances(run)) {
            expect(member.options.replaceOnChanges).to.include.members(["networks", "securityGroups", "keyPair"]);
            expect(member.inputs.keyPair).to.equal("private");
            expect(member.inputs.securityGroups).to.deep.equal(["herd-web", "private"]);
        }
        const generation = instances(run)[0].options.replacementTrigger;
        const planned = planMembers("web", {
            size: 1,
            release: {
                ...release,
                networks: [deployTimePlaceholder("networks[0]"), "ext-net"],
                keyPair: deployTimePlaceholder("keyPair"),
                securityGroups: [deployTimePlaceholder("securityGroups[0]")],
            },
            securityGroupName: "herd-web",
        });
        expect(generation).to.equal(planned[0].generation);
    });

    it("keeps a secret secret: a secret network ID and key pair are registered as secrets and shown nowhere in plain sight", async () => {
        const run = await wired(() => ({ networks: [pulumi.secret(NETWORK_ID)], keyPair: pulumi.secret("ops-secret-key") }));
        for (const member of instances(run)) {
            expect(isSecret(member.inputs.networks)).to.equal(true);
            expect(isSecret(member.inputs.keyPair)).to.equal(true);
            expect((member.inputs.networks as { value: unknown }).value).to.deep.equal([{ uuid: NETWORK_ID }]);
        }
        expect(run.plainText("ops-secret-key")).to.deep.equal([]);
        expect(run.plainText(NETWORK_ID)).to.deep.equal([]);
    });

    it("leaves a fleet of plain strings as it was: the same generation and inputs as before Outputs were accepted", async () => {
        const run = await runProgram({
            program: () => new ServerGroup("web", { size: 2, release }) && {},
            stack: "test",
            config: {},
        });
        const [member] = instances(run);
        expect(member.inputs.networks).to.deep.equal([{ name: "ext-net" }]);
        expect(member.inputs.keyPair).to.equal("ops");
        expect(member.options.replacementTrigger).to.equal(planMembers("web", { size: 2, release, securityGroupName: "herd-web" })[0].generation);
    });

    it("reach an OpenStack fleet built with buildFleet the same way", async () => {
        const run = await runProgram({
            program: () => {
                const openstack = require("@pulumi/openstack") as typeof import("@pulumi/openstack");
                const network = new openstack.networking.Network("private", { name: "private" });
                buildFleet("web", { backend: "openstack", size: 2, release: { ...release, networks: [network.id], keyPair: pulumi.secret("ops") } });
                return {};
            },
            stack: "test",
            config: {},
            id: (args) => (args.type === NETWORK ? NETWORK_ID : undefined),
        });
        for (const member of instances(run)) {
            expect(member.inputs.networks).to.deep.equal([{ uuid: NETWORK_ID }]);
            expect(isSecret(member.inputs.keyPair)).to.equal(true);
            expect(member.options.replacementTrigger).to.equal(
                planMembers("web", { size: 2, release: { ...release, networks: [deployTimePlaceholder("networks[0]")], keyPair: deployTimePlaceholder("keyPair") }, securityGroupName: "herd-web" })[0].generation,
            );
        }
    });

    it("puts the load balancer on a wired network, looked up by name only when it is one", async () => {
        const run = await runProgram({
            program: () => {
                const openstack = require("@pulumi/openstack") as typeof import("@pulumi/openstack");
                const network = new openstack.networking.Network("private", { name: "private" });
                new ServerGroup("web", {
                    size: 2,
                    release: { ...release, networks: [network.id] },
                    health: { path: "/healthz", port: 80 },
                    loadBalancer: { port: 80 },
                });
                return {};
            },
            stack: "test",
            config: {},
            id: (args) => (args.type === NETWORK ? NETWORK_ID : undefined),
        });
        expect(run.named("web-lb").inputs.vipNetworkId).to.equal(NETWORK_ID);
    });
});

describe("a namespace wired from another resource (Kubernetes)", () => {
    const IMAGE = "registry.example.org/api@sha256:" + "a".repeat(64);
    const args: KubernetesWorkloadArgs = { size: 3, release: { image: IMAGE, port: 8080 }, health: { path: "/ready", port: 8080 } };

    function workload(namespace: (ns: import("@pulumi/kubernetes").core.v1.Namespace) => pulumi.Input<string> | undefined) {
        let generations: unknown;
        return runProgram({
            program: () => {
                const k8s = require("@pulumi/kubernetes") as typeof import("@pulumi/kubernetes");
                const ns = new k8s.core.v1.Namespace("team", { metadata: { name: "team-api" } });
                const given = namespace(ns);
                const component = new KubernetesWorkload("api", { ...args, ...(given === undefined ? {} : { namespace: given }) });
                generations = component.generations;
                return { generations };
            },
            stack: "test",
            config: {},
        });
    }
    const objects = (run: ProgramRun) => run.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:") && r.name !== "team");

    it("puts every object in the resolved namespace, after it exists, with the generation a plain name gives", async () => {
        const wiredRun = await workload((ns) => ns.metadata.name);
        const plainRun = await workload(() => "team-api");
        const namespaceUrn = wiredRun.named("team").urn;
        expect(objects(wiredRun).length).to.be.greaterThan(2);
        for (const object of objects(wiredRun)) {
            expect((object.inputs.metadata as { namespace?: string }).namespace, object.name).to.equal("team-api");
            expect(object.options.dependsOn, object.name).to.include(namespaceUrn);
        }
        expect(wiredRun.outputs.generations).to.deep.equal(plainRun.outputs.generations);
        const again = await workload((ns) => ns.metadata.name);
        expect(JSON.stringify(objects(again).map((o) => o.inputs))).to.equal(JSON.stringify(objects(wiredRun).map((o) => o.inputs)));
    });

    it("checks a plain namespace as before, and leaves a wired one to Kubernetes", async () => {
        let message = "";
        try {
            await workload(() => "Team_API");
        } catch (err) {
            message = (err as Error).message;
        }
        expect(message).to.contain(`namespace = "Team_API": expected a Kubernetes namespace name (lowercase letters, digits, '-')`);
        const run = await workload((ns) => ns.metadata.name.apply((name) => name.toUpperCase()));
        expect((objects(run)[0].inputs.metadata as { namespace?: string }).namespace).to.equal("TEAM-API");
    });
});
