import { expect } from "chai";
import { ProgramRun } from "../components/testing";
import { runStack, stackConfig } from "./helpers/project";

const INSTANCE = "openstack:compute/instance:Instance";

interface FleetOutput {
    backend: string;
    servers: { slot: number; name: string; generation: string; ip: string }[];
    generations: string[];
    loadBalancerAddress?: string;
    containers: string[];
    replicas: { stable: number; canary: number };
}

const fleetsOf = (run: ProgramRun) => run.outputs.fleets as Record<string, FleetOutput>;

/** Every registration, inputs and options, as one string: what "identical inputs" means. */
const fingerprint = (run: ProgramRun) => JSON.stringify(run.resources);

describe("the program on the real stack files", () => {
    it("builds the prod fleets: 12 web members behind a load balancer mid-rollout, 4 workers", async () => {
        const run = await runStack("prod");
        const fleets = fleetsOf(run);
        expect(Object.keys(fleets)).to.deep.equal(["web", "worker", "api"]);
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

    it("builds the prod Kubernetes fleet as a stable and a canary Deployment behind one Service", async () => {
        const run = await runStack("prod");
        const api = fleetsOf(run).api;
        expect(api.backend).to.equal("kubernetes");
        expect(api.replicas).to.deep.equal({ stable: 5, canary: 1 });
        const deployments = run.ofType("kubernetes:apps/v1:Deployment");
        expect(deployments.map((d) => d.name).sort()).to.deep.equal(["api-canary", "api-stable"]);
        expect(run.ofType("kubernetes:core/v1:Service").map((s) => s.name)).to.deep.equal(["api"]);
    });

    it("builds the dev fleets small, on the local Docker engine", async () => {
        const run = await runStack("dev");
        const fleets = fleetsOf(run);
        expect(Object.values(fleets).every((f) => f.backend === "docker")).to.equal(true);
        expect(fleets.web.containers).to.have.length(2);
        expect(fleets.worker.containers).to.have.length(1);
        expect(fleets.api.containers).to.have.length(1);
        const provider = run.ofType("pulumi:providers:docker");
        expect(provider.map((p) => p.inputs.host)).to.deep.equal(Array(3).fill("unix:///var/run/docker.sock"));
        // The api release tried in dev is staging's: a container release goes on as it is.
        const dev = stackConfig("dev")["herd:fleets"] as Record<string, { release: unknown }>;
        const staging = stackConfig("staging")["herd:fleets"] as Record<string, { release: unknown }>;
        expect(dev.api.release).to.deep.equal(staging.api.release);
        const web0 = run.named("web-0", "docker:index/container:Container");
        expect(web0.options.deleteBeforeReplace).to.equal(true); // fixed host port 8080
        expect(web0.inputs.ports).to.deep.equal([{ internal: 80, external: 8080, ip: "127.0.0.1", protocol: "tcp" }]);
    });

    it("builds the staging fleets: prod's fleets, small, on prod's backends and releases, not protected", async () => {
        const run = await runStack("staging");
        const fleets = fleetsOf(run);
        expect(Object.keys(fleets)).to.deep.equal(["web", "worker", "api"]);
        expect(Object.fromEntries(Object.entries(fleets).map(([name, f]) => [name, f.backend]))).to.deep.equal({ web: "openstack", worker: "openstack", api: "kubernetes" });
        expect(fleets.web.servers).to.have.length(3);
        expect(fleets.worker.servers).to.have.length(2);
        expect(fleets.api.replicas).to.deep.equal({ stable: 2, canary: 0 });
        expect(run.ofType("openstack:loadbalancer/member:Member")).to.have.length(3);
        // Every slot runs prod's new release: what prod's next wave takes with --from-stack staging.
        const staging = stackConfig("staging")["herd:fleets"] as Record<string, { release: unknown }>;
        const prod = stackConfig("prod")["herd:fleets"] as Record<string, { release: unknown }>;
        for (const fleet of ["web", "worker", "api"]) {
            expect(staging[fleet].release, fleet).to.deep.equal(prod[fleet].release);
        }
        expect(stackConfig("staging")["herd:protected"]).to.equal(false);
        expect(stackConfig("prod")["herd:protected"]).to.equal(true);
    });

    it("is deterministic: two evaluations of the same config register byte-identical inputs and options", async () => {
        for (const stack of ["dev", "staging", "prod"]) {
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
