import * as path from "node:path";
import { expect } from "chai";
import { buildFleet } from "pulumi-herd";
import { ProgramError, runProgram, type ProgramRun, type RecordedResource } from "pulumi-herd/testing";

const program = path.join(__dirname, "..", "index.ts");
const INSTANCE = "openstack:compute/instance:Instance";
const CONTAINER = "docker:index/container:Container";

const members = (run: ProgramRun, type: string, fleet: string): RecordedResource[] =>
    run.ofType(type).filter((r) => r.name.startsWith(`${fleet}-`));

describe("a fleet of our own, built with herd from the packed package", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram({ program, stack: "test" });
    });

    it("builds one member per slot, named fleet-slot, from Pulumi.test.yaml", () => {
        expect(members(run, INSTANCE, "edge").map((r) => r.name)).to.deep.equal(["edge-0", "edge-1", "edge-2"]);
        expect(members(run, CONTAINER, "cache").map((r) => r.name)).to.deep.equal(["cache-0", "cache-1"]);
        expect(run.outputs.edgeWaves).to.deep.equal([1, 3]);
    });

    it("replaces a member whose release changes instead of patching it", () => {
        for (const server of members(run, INSTANCE, "edge")) {
            const generation = (server.inputs.metadata as Record<string, string>)["herd-generation"];
            expect(generation).to.match(/^[0-9a-f]{8}$/);
            expect(server.inputs.name).to.equal(`${server.name}-${generation}`);
            expect(server.options.replacementTrigger).to.equal(generation);
            expect(server.options.replaceOnChanges).to.include.members(["imageId", "flavorName", "userData", "networks"]);
            expect(server.options.deleteBeforeReplace).to.equal(false);
        }
    });

    it("runs the rollout the stack file pins for a fleet built in code (herd:rollouts)", () => {
        const images = members(run, INSTANCE, "edge").map((server) => server.inputs.imageId);
        // rollout.members: 1 → slot 0 runs the pinned image, the others the program's own release.
        expect(images).to.deep.equal(["0b5e7a3c-9d1f-4c2e-8a6b-3f4d5e6a7b8c", "6d1f0b7e-2c4a-4e8b-9f3d-5a7c1e9b2d40", "6d1f0b7e-2c4a-4e8b-9f3d-5a7c1e9b2d40"]);
    });

    it("replaces members one batch at a time, each batch waiting for the one before", () => {
        const [first, second, third] = members(run, INSTANCE, "edge");
        expect(second.options.dependsOn).to.include(first.urn);
        expect(third.options.dependsOn).to.include(second.urn);
        expect(third.options.dependsOn).to.not.include(first.urn);
    });

    it("spreads the edge servers with a hard anti-affinity server group", () => {
        expect(run.named("edge-group").inputs.policies).to.deep.equal(["anti-affinity"]);
        for (const server of members(run, INSTANCE, "edge")) {
            expect(server.inputs.schedulerHints).to.have.length(1);
            expect(server.options.parent).to.equal(run.named("edge", "herd:openstack:ServerGroup").urn);
        }
    });

    it("runs the cache from its pinned image, health-checked, within limits", () => {
        const images = run.ofType("docker:index/remoteImage:RemoteImage");
        expect(images.map((image) => image.inputs.name)).to.deep.equal([
            "registry.example.org/cache@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ]);
        for (const container of members(run, CONTAINER, "cache")) {
            expect(container.inputs.memory).to.equal(128);
            expect(container.inputs.healthcheck).to.have.property("tests").that.is.an("array").that.is.not.empty;
            expect(container.options.replaceOnChanges).to.include("image");
        }
    });

    it("is monitored from birth: the edge probe runs on every member, and both fleets' alerts are in one rule file", () => {
        expect(run.named("edge-probe-haproxy_restarts", "herd:monitoring:Probe").custom).to.equal(false);
        for (const server of members(run, INSTANCE, "edge")) {
            expect(server.inputs.userData).to.include("haproxy_restarts");
        }
        const rules = run.outputs.alertRules as string;
        expect(rules.match(/^ {2}- name: .*$/gm)).to.deep.equal(["  - name: herd-test-edge", "  - name: herd-test-cache"]);
        expect(rules.match(/^ {6}- alert: .*$/gm)).to.deep.equal([
            "      - alert: HerdFleetBelowMinHealthy",
            "      - alert: HerdMemberDown",
            "      - alert: HerdProbeHaproxyRestarts",
            "      - alert: HerdFleetBelowMinHealthy",
            "      - alert: HerdMemberDown",
        ]);
        // edge: 3 members, batches of 1 → alert below 2; cache: minHealthy 1, as index.ts says.
        expect(rules).to.include('expr: (sum(up{herd_stack="test",herd_fleet="edge"}) or vector(0)) < 2');
        expect(rules).to.include('expr: (sum(up{herd_stack="test",herd_fleet="cache"}) or vector(0)) < 1');
    });

    it("refuses a fleet built in code with a bad probe, naming the key in its args, before registering anything", async () => {
        const failure = await runProgram({
            program: () => {
                buildFleet("edge", {
                    backend: "openstack",
                    size: 1,
                    release: { image: "6d1f0b7e-2c4a-4e8b-9f3d-5a7c1e9b2d40", flavor: "b3-8", networks: ["ext-net"] },
                    probes: [{ name: "haproxy_restarts", script: "#!/bin/sh\necho 0\n", every: "a minute" }],
                });
            },
            stack: "test",
            config: {},
        }).then(
            () => undefined,
            (err: unknown) => err,
        );
        expect(failure).to.be.instanceOf(ProgramError);
        expect((failure as ProgramError).message).to.equal(
            'Fleet "edge": invalid arguments:\n  - probes[0].every = "a minute": expected a duration from 1s to 24h, such as 30s, 5m or 1h',
        );
        expect((failure as ProgramError).resources.filter((r) => r.custom)).to.deep.equal([]);
    });

    it("gives identical inputs for the same stack file, run after run", async () => {
        const again = await runProgram({ program, stack: "test" });
        expect(JSON.stringify(again.resources)).to.equal(JSON.stringify(run.resources));
    });

    it("fails before building anything when the stack config is wrong", async () => {
        const failure = await runProgram({
            program,
            stack: "test",
            config: {
                "herd-consumer:edge": { size: 3, image: "6d1f0b7e-2c4a-4e8b-9f3d-5a7c1e9b2d40", flavor: "b3-8", network: "ext-net" },
                "herd-consumer:cache": { size: 2.5, image: "registry.example.org/cache@sha256:00" },
            },
        }).then(
            () => undefined,
            (err: unknown) => err,
        );
        expect(failure).to.be.instanceOf(ProgramError);
        expect((failure as ProgramError).message).to.contain("size = 2.5: expected a whole number ≥ 0");
        expect((failure as ProgramError).resources.filter((r) => r.custom && r.name.startsWith("cache-"))).to.deep.equal([]);
    });
});
