import { expect } from "chai";
import { ProgramRun } from "../components/testing";
import { runStack, stackConfig } from "./helpers/project";

const INSTANCE = "openstack:compute/instance:Instance";

interface FleetOutput {
    backend: string;
    servers: { slot: number; name: string; generation: string; ip: string }[];
    generations: string[];
    loadBalancerAddress?: string;
}

const fleetsOf = (run: ProgramRun) => run.outputs.fleets as Record<string, FleetOutput>;

/** Every registration, inputs and options, as one string: what "identical inputs" means. */
const fingerprint = (run: ProgramRun) => JSON.stringify(run.resources);

describe("the program on the real stack files", () => {
    it("builds the prod fleets: 12 web members behind a load balancer mid-rollout, 4 workers", async () => {
        const run = await runStack("prod");
        const fleets = fleetsOf(run);
        expect(Object.keys(fleets)).to.deep.equal(["web", "worker"]);
        expect(fleets.web.servers).to.have.length(12);
        expect(fleets.worker.servers).to.have.length(4);
        expect(fleets.web.loadBalancerAddress).to.be.a("string");
        // rollout.members: 1 → slot 0 runs the new release, slots 1–11 the previous one
        const [canary, ...rest] = fleets.web.generations;
        expect(rest.every((g) => g === rest[0])).to.equal(true);
        expect(canary).to.not.equal(rest[0]);
        expect(run.ofType(INSTANCE).filter((r) => r.name.startsWith("web-"))).to.have.length(12);
        expect(run.named("web-group").inputs.policies).to.deep.equal(["anti-affinity"]);
        expect(run.ofType("openstack:loadbalancer/member:Member")).to.have.length(12);
    });

    it("builds the dev fleet small", async () => {
        const run = await runStack("dev");
        const fleets = fleetsOf(run);
        expect(Object.values(fleets).reduce((n, f) => n + f.servers.length, 0)).to.be.within(1, 4);
    });

    it("is deterministic: two evaluations of the same config register byte-identical inputs and options", async () => {
        for (const stack of ["dev", "prod"]) {
            const first = fingerprint(await runStack(stack));
            const second = fingerprint(await runStack(stack));
            expect(second).to.equal(first);
        }
    });

    it("a release change replaces exactly the members that run it, and nothing else changes", async () => {
        const before = await runStack("prod");
        const config = stackConfig("prod");
        const web = (config["herd:fleets"] as Record<string, { release: Record<string, unknown> }>).web;
        web.release.flavor = "b3-16";
        const after = await runStack("prod", config);
        const changed = after.resources
            .filter((r, i) => JSON.stringify(r) !== JSON.stringify(before.resources[i]))
            .map((r) => r.name);
        expect(before.resources.map((r) => r.urn)).to.deep.equal(after.resources.map((r) => r.urn));
        // the slot-0 server and its pool member (named after the server); every other slot is untouched
        expect(changed).to.deep.equal(["web-0", "web-0-lb"]);
        const member = after.named("web-0", INSTANCE);
        expect(member.inputs.flavorName).to.equal("b3-16");
        expect(member.options.replaceOnChanges).to.include("flavorName");
        expect(member.options.replacementTrigger).to.not.equal(before.named("web-0", INSTANCE).options.replacementTrigger);
    });
});
