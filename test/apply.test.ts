import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { applyStack } from "../components/cli/apply";
import { applyBatches, type StateResource } from "../components/fleet/batches";
import { deployedServers, serverTargets } from "../components/openstack/batches";
import type { ApplyJob } from "../components/cli/applyWorker";
import { run } from "../components/cli/main";
import { resolveStack } from "../components/fleet";
import { imageResourceName } from "../components/docker/spec";

const INSTANCE = "openstack:compute/instance:Instance";
const MEMBER = "openstack:loadbalancer/member:Member";
const VOLUME = "openstack:blockstorage/volume:Volume";
const ATTACH = "openstack:compute/volumeAttach:VolumeAttach";
const urn = (type: string, name: string) => `urn:pulumi:s::herd::herd:openstack:ServerGroup$${type}::${name}`;

/** A deployed member of `fleet` in `slot`, running `generation`, with its pool member. */
function deployed(fleet: string, slot: number, generation: string, flavor = "m1.small"): StateResource[] {
    return [
        { urn: urn(INSTANCE, `${fleet}-${slot}`), type: INSTANCE, custom: true, inputs: { flavorName: flavor, metadata: { "herd-fleet": fleet, "herd-slot": String(slot), "herd-generation": generation } } },
        { urn: urn(MEMBER, `${fleet}-${slot}-lb`), type: MEMBER, custom: true, inputs: {} },
    ];
}

const STACK_FILE = `config:
  herd:openstack:
    quota: { instances: 6 }
  herd:fleets:
    web:
      backend: openstack
      size: 4
      release: { image: img, flavor: m1.small, network: net }
      update: { batch: 2 }
`;

describe("herd apply", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-apply-"));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: herd\nruntime: nodejs\n");
        fs.writeFileSync(path.join(dir, "Pulumi.s.yaml"), STACK_FILE);
        fs.writeFileSync(path.join(dir, "index.ts"), "");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const state = [0, 1, 2, 3].flatMap((slot) => deployed("web", slot, "old"));

    it("reads the deployed members from the stack's state", () => {
        expect(deployedServers([...state, { urn: urn(VOLUME, "web-0-data"), type: VOLUME }]).get("web")).to.deep.equal([0, 1, 2, 3].map((slot) => ({ slot, generation: "old", flavor: "m1.small" })));
    });

    it("batches the replaced slots of each fleet, in slot order, a batch at a time", () => {
        const change = (fleet: string, moved: number[], batch: number) => ({
            fleet,
            before: [0, 1, 2, 3, 4].map((slot) => ({ slot, generation: "old", flavor: "f" })),
            after: [0, 1, 2, 3, 4, 5].map((slot) => ({ slot, generation: moved.includes(slot) ? "new" : "old", flavor: "f" })),
            batch,
            createBeforeDelete: true,
            antiAffinity: false,
        });
        expect(applyBatches([change("web", [1, 2, 3, 4], 3), change("db", [0], 2)])).to.deep.equal([
            { fleet: "web", index: 1, of: 2, slots: [1, 2, 3] },
            { fleet: "web", index: 2, of: 2, slots: [4] },
            { fleet: "db", index: 1, of: 1, slots: [0] },
        ]);
    });

    it("targets a batch's members with their pool members and volume attachments, not their volumes", () => {
        const volumes: StateResource[] = [
            { urn: urn(VOLUME, "web-1-data"), type: VOLUME, custom: true },
            { urn: urn(ATTACH, "web-1-data"), type: ATTACH, custom: true },
        ];
        expect(serverTargets([...state, ...volumes], "web", [0, 1])).to.deep.equal([
            urn(INSTANCE, "web-0"),
            urn(MEMBER, "web-0-lb"),
            urn(INSTANCE, "web-1"),
            urn(MEMBER, "web-1-lb"),
            urn(ATTACH, "web-1-data"),
        ]);
    });

    it("runs a targeted up per batch, then a whole up, within the declared quota", async () => {
        const jobs: ApplyJob[] = [];
        const said: string[] = [];
        await applyStack({
            projectDir: dir,
            stack: "s",
            env: {},
            say: (line) => said.push(line),
            state: async () => state,
            up: async (job) => {
                jobs.push(job);
                return { changes: { replace: 2 } };
            },
        });
        expect(jobs.map((j) => j.targets?.map((t) => t.split("::").pop()))).to.deep.equal([["web-0", "web-0-lb", "web-1", "web-1-lb"], ["web-2", "web-2-lb", "web-3", "web-3-lb"], undefined]);
        expect(said[0]).to.equal("preflight of stack s: herd apply needs at its peak 6 servers (limits: herd:openstack.quota)");
        expect(said).to.include("fleet web, batch 2 of 2 (slots 2, 3): 2 replaced");
    });

    it("stops at the first failed batch and says what is left", async () => {
        const jobs: ApplyJob[] = [];
        let error: Error | undefined;
        await applyStack({
            projectDir: dir,
            stack: "s",
            env: {},
            say: () => undefined,
            state: async () => state,
            up: async (job) => {
                jobs.push(job);
                throw new Error("pulumi up exited 255: Quota exceeded for instances");
            },
        }).catch((err: Error) => (error = err));
        expect(jobs).to.have.length(1);
        expect(error?.message).to.equal(
            "fleet web, batch 1 of 2 (slots 0, 1) failed, stopped there: pulumi up exited 255: Quota exceeded for instances\n" +
                "The batches before it are applied; web-2, web-3 still run their release, and the members of this batch that were not replaced still serve. " +
                "Fix the cause, then run herd apply --stack s again.",
        );
    });

    it("refuses a change that does not fit even one batch at a time, before any up", async () => {
        fs.writeFileSync(path.join(dir, "Pulumi.s.yaml"), STACK_FILE.replace("instances: 6", "instances: 5"));
        const jobs: ApplyJob[] = [];
        const error = await applyStack({ projectDir: dir, stack: "s", env: {}, say: () => undefined, state: async () => state, up: async (job) => (jobs.push(job), { changes: {} }) }).catch(
            (err: Error) => err,
        );
        expect(jobs).to.deep.equal([]);
        expect((error as Error).message).to.equal(
            "refused: stack s cannot take this change, even one batch at a time:\n" +
                "  - herd apply (one batch at a time) needs 6 servers at its peak (the fleets hold 4 now), the instances quota is 5 (herd:openstack.quota): room for 5",
        );
    });

    it("moves a Docker fleet batch by batch too: each container with the image its new release pulls", async () => {
        const image = (digit: string) => `registry.example.org/api@sha256:${digit.repeat(64)}`;
        const stackFile = (digit: string) => `config:\n  herd:fleets:\n    api:\n      backend: docker\n      size: 3\n      release: { image: "${image(digit)}", port: 8080 }\n      update: { batch: 2 }\n`;
        const containerUrn = (name: string) => `urn:pulumi:s::herd::herd:docker:Workload$${"docker:index/container:Container"}::${name}`;
        fs.writeFileSync(path.join(dir, "Pulumi.s.yaml"), stackFile("2"));
        const deployedContainers: StateResource[] = [0, 1, 2].map((slot) => ({ urn: containerUrn(`api-${slot}`), type: "docker:index/container:Container", custom: true, inputs: { name: `api-${slot}-old` } }));
        const jobs: ApplyJob[] = [];
        await applyStack({ projectDir: dir, stack: "s", env: {}, say: () => undefined, state: async () => deployedContainers, up: async (job) => (jobs.push(job), { changes: {} }) });
        const targets = jobs.map((j) => j.targets?.map((t) => t.split("$").pop()));
        expect(targets).to.have.length(3);
        expect(targets[2]).to.equal(undefined);
        expect(targets[0]?.slice(1)).to.deep.equal(["docker:index/container:Container::api-0", "docker:index/container:Container::api-1"]);
        expect(targets[0]?.[0]).to.equal(`docker:index/remoteImage:RemoteImage::${imageResourceName("api", image("2"))}`);
        expect(targets[1]?.slice(1)).to.deep.equal(["docker:index/container:Container::api-2"]);
        expect(targets[1]?.[0]).to.equal(targets[0]?.[0]);
    });

    it("refuses an unknown fleet and a wrong --wait with one message", async () => {
        const out: string[] = [];
        const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t), cwd: dir };
        expect(await run(["apply", "--stack", "s", "--fleet", "api"], io)).to.equal(1);
        expect(await run(["apply", "--stack", "s", "--wait", "soon"], io)).to.equal(1);
        expect(out.filter((line) => line.startsWith("herd:"))).to.deep.equal([
            'herd: unknown fleet "api" in stack "s": herd apply batches OpenStack and Docker fleets; they are web\n',
            'herd: --wait = "soon": expected a whole number of seconds ≥ 1\n',
        ]);
    });
});

describe("the preflight of herd plan", () => {
    let dir: string;
    const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } });
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-plan-preflight-"));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: herd\nruntime: nodejs\n");
        fs.writeFileSync(path.join(dir, "Pulumi.s.yaml"), STACK_FILE.replace("quota: { instances: 6 }", "quota: { instances: 6, cores: 7 }\n    flavors: { m1.small: { vcpus: 1, ramMB: 2048 }, m1.medium: { vcpus: 2, ramMB: 4096 } }"));
        fs.writeFileSync(path.join(dir, "index.ts"), "");
        git("init", "--quiet");
        git("add", "--all");
        git("commit", "--quiet", "-m", "the stack");
        fs.writeFileSync(path.join(dir, "Pulumi.s.yaml"), fs.readFileSync(path.join(dir, "Pulumi.s.yaml"), "utf8").replace("flavor: m1.small", "flavor: m1.medium"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("prints both peaks, and refuses (exit 3) a change that does not fit even under herd apply", async () => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await run(["plan", "--stack", "s"], { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd: dir });
        expect(out.join("")).to.contain(
            "preflight of stack s: a plain pulumi up needs at its peak 8 servers, 12 vCPUs, 24576 MB of RAM (limits: herd:openstack.quota)\n" +
                "  refused: a plain pulumi up needs 8 servers at its peak (the fleets hold 4 now), the instances quota is 6 (herd:openstack.quota): room for 6\n" +
                "  refused: a plain pulumi up needs 12 vCPUs at its peak (the fleets hold 4 now), the cores quota is 7 (herd:openstack.quota): room for 7\n" +
                "preflight of stack s: herd apply needs at its peak 6 servers, 10 vCPUs, 20480 MB of RAM (limits: herd:openstack.quota)\n" +
                "  refused: herd apply (one batch at a time) needs 10 vCPUs at its peak (the fleets hold 4 now), the cores quota is 7 (herd:openstack.quota): room for 7\n",
        );
        expect(err).to.deep.equal(["herd: refused by the preflight of stack s: herd apply (one batch at a time) needs 10 vCPUs at its peak (the fleets hold 4 now), the cores quota is 7 (herd:openstack.quota): room for 7\n"]);
        expect(code).to.equal(3);
    });
});

describe("herd:openstack.quota and herd:openstack.flavors in the stack config", () => {
    const resolve = (openstack: unknown) => resolveStack({ fleets: {}, openstack }, { stack: "box", projectDir: "." });
    const cases: [unknown, string][] = [
        [{ quota: { instances: -1 } }, "herd:openstack.quota.instances = -1: expected a whole number ≥ 0"],
        [{ quota: { instnaces: 3 } }, 'herd:openstack.quota.instnaces = 3: unknown key; did you mean "instances"? allowed keys: instances, cores, ramMB'],
        [{ quota: { ramMB: 1.5 } }, "herd:openstack.quota.ramMB = 1.5: expected a whole number ≥ 0"],
        [{ flavors: { big: { vcpus: 0, ramMB: 1 } } }, "herd:openstack.flavors.big.vcpus = 0: expected a whole number ≥ 1"],
    ];
    for (const [value, message] of cases) {
        it(`refuses ${JSON.stringify(value)}`, () => {
            expect(() => resolve(value)).to.throw(`Invalid herd config in stack "box" (Pulumi.box.yaml), 1 problem:\n  - ${message}`);
        });
    }

    it("takes a quota and flavor sizes", () => {
        const openstack = { quota: { instances: 6, cores: 12, ramMB: 4096 }, flavors: { "m1.small": { vcpus: 1, ramMB: 2048 } } };
        expect(resolve(openstack).openstack).to.deep.equal(openstack);
    });
});
