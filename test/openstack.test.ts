import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { ConfigError } from "../components/config";
import { resolveStack } from "../components/fleet";
import {
    FAILED_CREATE,
    hostsNeeded,
    MemberPlan,
    parseCloudConfig,
    planMembers,
    RELEASE_PROPERTIES,
    ServerGroup,
    ServerGroupArgs,
    ServerRelease,
    spreadProblem,
    toUserData,
    withHerdDefaults,
} from "../components/openstack";
import { generationOf } from "../components/release";
import { batchesOf } from "../components/rollout";
import * as pulumi from "@pulumi/pulumi";
import { ProgramError, ProgramRun, RecordedResource, runProgram } from "../components/testing";
import { runStack } from "./helpers/project";

const INSTANCE = "openstack:compute/instance:Instance";
const USER_DATA = "#cloud-config\npackages:\n  - nginx\nruncmd:\n  - [systemctl, enable, --now, nginx]\n";
const v1: ServerRelease = { image: "debian-12-web-1", flavor: "b3-8", networks: ["ext-net"], keyPair: "ops", userData: USER_DATA };
const v2: ServerRelease = { ...v1, image: "debian-12-web-2" };

function group(args: Partial<ServerGroupArgs> = {}): Promise<ProgramRun> {
    return runProgram({
        program: () => {
            const fleet = new ServerGroup("web", { size: 6, release: v1, health: { path: "/healthz", port: 80 }, ...args });
            return { servers: fleet.servers, lb: fleet.loadBalancerAddress };
        },
        stack: "test",
        config: {},
    });
}

const instances = (run: ProgramRun) => run.ofType(INSTANCE).sort((a, b) => slotOf(a) - slotOf(b));
const slotOf = (r: RecordedResource) => Number(r.name.split("-").pop());

describe("OpenStack ServerGroup", () => {
    it("creates one instance per slot, named by slot, with the generation in the cloud-side name", async () => {
        const run = await group();
        const members = instances(run);
        const generation = members[0].options.replacementTrigger as string;
        expect(generation).to.match(/^[0-9a-f]{8}$/);
        expect(members.map((m) => m.name)).to.deep.equal(["web-0", "web-1", "web-2", "web-3", "web-4", "web-5"]);
        expect(members.map((m) => m.inputs.name)).to.deep.equal([0, 1, 2, 3, 4, 5].map((slot) => `web-${slot}-${generation}`));
        expect(members[3].inputs.metadata).to.deep.equal({ "herd-fleet": "web", "herd-slot": "3", "herd-generation": generation });
        expect(run.outputs.servers).to.have.length(6);
    });

    it("spreads members with a Nova server group every member joins (soft anti-affinity by default)", async () => {
        for (const [spread, policy] of [[undefined, "soft-anti-affinity"], ["anti-affinity", "anti-affinity"]] as const) {
            const run = await group(spread ? { spread } : {});
            const serverGroup = run.named("web-group", "openstack:compute/serverGroup:ServerGroup");
            expect(serverGroup.inputs.policies).to.deep.equal([policy]);
            const groupId = `web-group-`;
            for (const member of instances(run)) {
                expect((member.inputs.schedulerHints as { group: string }[])[0].group).to.satisfy((id: string) => id.startsWith(groupId));
            }
        }
    });

    it("replaces, never patches: every release-defining input is covered by replaceOnChanges and the generation trigger", async () => {
        const run = await group();
        for (const member of instances(run)) {
            expect(member.options.replaceOnChanges).to.include.members(["flavorName", "imageName", "userData", "keyPair", "networks", "securityGroups"]);
            expect(member.options.replacementTrigger).to.equal((member.inputs.metadata as Record<string, string>)["herd-generation"]);
            const releaseInputs = Object.keys(member.inputs).filter((k) => !["name", "metadata", "tags"].includes(k));
            expect(RELEASE_PROPERTIES as readonly string[]).to.include.members(releaseInputs);
        }
    });

    it("creates before deleting by default, and deletes first when asked to", async () => {
        const byDefault = await group();
        expect(instances(byDefault).every((m) => m.options.deleteBeforeReplace === false)).to.equal(true);
        const quotaTight = await group({ update: { order: "delete-before-create" } });
        expect(instances(quotaTight).every((m) => m.options.deleteBeforeReplace === true)).to.equal(true);
    });

    it("chains update batches: every member of batch k+1 depends on every member of batch k", async () => {
        const run = await group({ size: 7, update: { batch: 3 }, loadBalancer: { port: 80 } });
        const members = instances(run);
        const urnsOf = (slots: number[]) => slots.map((s) => members[s].urn);
        const lbUrnsOf = (slots: number[]) => slots.map((s) => run.named(`web-${s}-lb`).urn);
        expect(members[0].options.dependsOn.some((urn) => urn.includes("Instance::"))).to.equal(false);
        for (const slot of [3, 4, 5]) {
            expect(members[slot].options.dependsOn).to.include.members([...urnsOf([0, 1, 2]), ...lbUrnsOf([0, 1, 2])]);
            expect(members[slot].options.dependsOn).to.not.include.members(urnsOf([6]));
        }
        expect(members[6].options.dependsOn).to.include.members(urnsOf([3, 4, 5]));
        expect(members[6].options.dependsOn).to.not.include.members(urnsOf([0]));
    });

    it("puts members behind an Octavia load balancer with an HTTP health monitor and one pool member each", async () => {
        const run = await group({ loadBalancer: { port: 80, protocol: "HTTP" } });
        const monitor = run.named("web-monitor", "openstack:loadbalancer/monitor:Monitor");
        expect(monitor.inputs).to.include({ type: "HTTP", urlPath: "/healthz", expectedCodes: "200" });
        const poolMembers = run.ofType("openstack:loadbalancer/member:Member");
        expect(poolMembers).to.have.length(6);
        const ips = instances(run).map((i) => (run.outputs.servers as { ip: string }[])[slotOf(i)].ip);
        expect(poolMembers.map((m) => m.inputs.address).sort()).to.deep.equal([...ips].sort());
        expect(poolMembers.every((m) => m.inputs.protocolPort === 80)).to.equal(true);
        expect(run.outputs.lb).to.match(/^10\.30\./);
    });

    it("opens the fleet's security group to the health port by default and to the configured rules otherwise", async () => {
        const byDefault = await group();
        const rules = byDefault.ofType("openstack:networking/secGroupRule:SecGroupRule");
        expect(rules.map((r) => [r.inputs.portRangeMin, r.inputs.remoteIpPrefix])).to.deep.equal([[80, "0.0.0.0/0"]]);
        const custom = await group({ ingress: [{ port: 443, cidr: "0.0.0.0/0" }, { port: 9100, cidr: "10.0.0.0/8" }] });
        const ports = custom.ofType("openstack:networking/secGroupRule:SecGroupRule").map((r) => r.inputs.portRangeMin);
        expect(ports.sort()).to.deep.equal([443, 9100]);
        for (const member of instances(custom)) {
            expect(member.inputs.securityGroups).to.deep.equal(["herd-web"]);
        }
    });

    it("passes image and network IDs as IDs and names as names, the form the provider reads back", async () => {
        const id = "3f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73";
        const run = await group({ release: { ...v1, image: id, networks: [id, "ext-net"] } });
        const member = instances(run)[0];
        expect(member.inputs.imageId).to.equal(id);
        expect(member.inputs).to.not.have.property("imageName");
        expect(member.inputs.networks).to.deep.equal([{ uuid: id }, { name: "ext-net" }]);
    });

    it("keeps data that outlives members out of the cattle: one protected volume per slot, reattached to each new occupant", async () => {
        const run = await group({ size: 3, update: { batch: 1 }, volume: { size: 50, type: "ssd" } });
        const volumes = run.ofType("openstack:blockstorage/volume:Volume");
        expect(volumes.map((v) => [v.name, v.inputs.name, v.inputs.size, v.inputs.volumeType])).to.deep.equal([
            ["web-0-data", "web-0-data", 50, "ssd"],
            ["web-1-data", "web-1-data", 50, "ssd"],
            ["web-2-data", "web-2-data", 50, "ssd"],
        ]);
        expect(volumes.every((v) => v.options.protect && v.options.retainOnDelete)).to.equal(true);
        expect(volumes.every((v) => v.options.replaceOnChanges.length === 0 && v.options.replacementTrigger === undefined)).to.equal(true);
        const attachments = run.ofType("openstack:compute/volumeAttach:VolumeAttach");
        expect(attachments.map((a) => a.name)).to.deep.equal(["web-0-data", "web-1-data", "web-2-data"]);
        // one server at a time can hold a volume: those members go delete-before-create
        expect(instances(run).every((m) => m.options.deleteBeforeReplace)).to.equal(true);
        // the next batch waits for the attachment too
        expect(instances(run)[1].options.dependsOn).to.include(attachments[0].urn);

        const next = await group({ size: 3, update: { batch: 1 }, volume: { size: 50, type: "ssd" }, release: v2 });
        const after = next.ofType("openstack:blockstorage/volume:Volume");
        expect(JSON.stringify(after.map((v) => v.inputs))).to.equal(JSON.stringify(volumes.map((v) => v.inputs)));
        expect(instances(next)[0].inputs.name).to.not.equal(instances(run)[0].inputs.name);
    });

    it("replaces a member whose create failed on the next up, with its pool member and volume attachment, instead of patching it", async () => {
        // A server Nova could not build (ERROR) stays in the state with the failure recorded; only
        // `#initerror` in replaceOnChanges makes the engine replace it rather than update it in place.
        expect(FAILED_CREATE).to.equal("#initerror");
        const run = await group({ size: 2, volume: { size: 1 }, loadBalancer: { port: 80 } });
        for (const type of [INSTANCE, "openstack:loadbalancer/member:Member", "openstack:compute/volumeAttach:VolumeAttach"]) {
            const resources = run.ofType(type);
            expect(resources, type).to.have.length(2);
            for (const resource of resources) {
                expect(resource.options.replaceOnChanges, `${type} ${resource.name}`).to.include(FAILED_CREATE);
            }
        }
        // Data is not cattle: a volume is never replaced, failed or not.
        expect(run.ofType("openstack:blockstorage/volume:Volume").every((v) => !v.options.replaceOnChanges.includes(FAILED_CREATE))).to.equal(true);
    });

    it("refuses hard anti-affinity that cannot fit on the declared compute hosts, before registering anything", async () => {
        // Two hosts: two members fit with delete-before-create, not with create-before-delete.
        const refusal = async (args: Partial<ServerGroupArgs>) => {
            const outcome = await group(args).then(
                () => undefined,
                (err: ProgramError) => err,
            );
            if (outcome) {
                // A RunError (printed without a stack trace), thrown before anything was registered.
                expect(pulumi.RunError.isInstance(outcome.cause), String(outcome.cause)).to.equal(true);
                expect(outcome.resources).to.deep.equal([]);
            }
            return { message: outcome?.message };
        };
        expect((await refusal({ size: 2, spread: "anti-affinity", computeHosts: 2, update: { order: "delete-before-create" } })).message).to.equal(undefined);
        expect((await refusal({ size: 2, spread: "anti-affinity", computeHosts: 2 })).message).to.equal(
            'ServerGroup "web": invalid arguments:\n  - update.order = create-before-delete: spread anti-affinity with create-before-delete needs a host for every replacement while the member it replaces still holds one: ' +
                "2 members + a batch of 1 = 3 hosts, the cloud has 2; use update.order: delete-before-create or spread: soft-anti-affinity",
        );
        expect((await refusal({ size: 3, spread: "anti-affinity", computeHosts: 2, update: { order: "delete-before-create" } })).message).to.match(
            /^ServerGroup "web": invalid arguments:\n {2}- size = 3: spread anti-affinity places at most one member per compute host: 3 members need 3 hosts, the cloud has 2;/,
        );
        // User data Nova would refuse, and a load balancer without a health check, from code: all at once.
        const big = `#cloud-config\nwrite_files:\n  - path: /etc/big\n    content: "${"x".repeat(60_000)}"\n`;
        const { message } = await refusal({ release: { ...v1, userData: big }, health: undefined, loadBalancer: { port: 80 } });
        expect(message).to.match(/^ServerGroup "web": invalid arguments:\n/);
        expect(message).to.contain("  - loadBalancer needs a health check (args.health)");
        expect(message).to.match(/ {2}- release\.userData: \d+ bytes once base64-encoded with herd's additions; Nova takes at most 65535/);
        // Soft anti-affinity fits anywhere; so does a fleet without declared hosts.
        await group({ size: 12, computeHosts: 2 });
        await group({ size: 12, spread: "anti-affinity" });
    });

    it("keeps every resource under the component", async () => {
        const run = await group({ loadBalancer: { port: 80 } });
        const component = run.named("web", "herd:openstack:ServerGroup");
        const children = run.resources.filter((r) => r !== component);
        expect(children.every((r) => r.options.parent === component.urn)).to.equal(true);
    });
});

describe("member planning", () => {
    const input = { size: 12, release: v2, rollout: { previous: v1, members: 1 }, batch: 3, securityGroupName: "herd-web" };

    it("runs the new release on slots below rollout.members and the previous one elsewhere", () => {
        const plan = planMembers("web", input);
        const newGen = plan[0].generation;
        expect(plan.filter((m) => m.generation === newGen).map((m) => m.slot)).to.deep.equal([0]);
        expect(new Set(plan.slice(1).map((m) => m.generation)).size).to.equal(1);
        expect(plan[1].generation).to.not.equal(newGen);
    });

    it("changes exactly the affected members' generations when the release changes", () => {
        const before = planMembers("web", input);
        const after = planMembers("web", { ...input, rollout: { previous: v1, members: 10 } });
        const changed = after.filter((m, i) => m.generation !== before[i].generation).map((m) => m.slot);
        expect(changed).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it("gives every release-defining field its own generation", () => {
        const fields: Partial<ServerRelease>[] = [
            { image: "other" },
            { flavor: "b3-16" },
            { networks: ["other-net"] },
            { keyPair: "other" },
            { securityGroups: ["extra"] },
            { userData: "#cloud-config\npackages: [apache2]\n" },
        ];
        const base = planMembers("web", { ...input, rollout: undefined })[0].generation;
        const generations = fields.map((change) => planMembers("web", { ...input, release: { ...v2, ...change }, rollout: undefined })[0].generation);
        expect(new Set([base, ...generations]).size).to.equal(fields.length + 1);
    });

    it("is deterministic: the same input gives byte-identical plans, whatever the key order", () => {
        const reordered: ServerRelease = { userData: v2.userData, keyPair: "ops", networks: ["ext-net"], flavor: "b3-8", image: v2.image };
        const a = JSON.stringify(planMembers("web", input));
        const b = JSON.stringify(planMembers("web", { ...input, release: reordered }));
        expect(b).to.equal(a);
    });

    it("assigns slots to batches in slot order", () => {
        expect(batchesOf(7, 3)).to.deep.equal([[0, 1, 2], [3, 4, 5], [6]]);
        expect(planMembers("web", { ...input, size: 7 }).map((m: MemberPlan) => m.batch)).to.deep.equal([0, 0, 0, 1, 1, 1, 2]);
        expect(() => batchesOf(7, 0)).to.throw(RangeError, "update.batch must be a whole number ≥ 1, got 0");
    });

    it("hashes the release as it reaches the cloud", () => {
        const member = planMembers("web", { ...input, rollout: undefined })[0];
        expect(member.generation).to.equal(generationOf(member.release));
        expect(member.userData).to.contain(`herd_release_info{fleet="web",generation="${member.generation}"} 1`);
        expect(member.userData).to.contain("prometheus-node-exporter");
    });
});

describe("user data", () => {
    it("adds node_exporter without mutating the user's config or duplicating the package", () => {
        const user = parseCloudConfig("#cloud-config\npackages: [prometheus-node-exporter, nginx]\n");
        const rendered = withHerdDefaults(user);
        expect(rendered.packages).to.deep.equal(["prometheus-node-exporter", "nginx"]);
        expect(user).to.not.have.property("runcmd");
        expect(toUserData(rendered)).to.match(/^#cloud-config\n/);
    });

    it("rejects documents cloud-init would not read as cloud-config", () => {
        expect(() => parseCloudConfig("packages: [nginx]\n")).to.throw('must start with a "#cloud-config" line');
        expect(() => parseCloudConfig("#cloud-config\n- a\n")).to.throw("must be a YAML mapping");
        expect(() => parseCloudConfig("#cloud-config\na: [\n")).to.throw("is not valid YAML");
        expect(() => withHerdDefaults(parseCloudConfig("#cloud-config\npackages: nginx\n"))).to.throw('"packages" must be a list');
    });

    it("passes the real `cloud-init schema` for every release of the real stacks", function () {
        this.timeout(60_000);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-cloud-init-"));
        const rendered = new Set<string>();
        for (const release of [v1, v2, { ...v1, userData: fs.readFileSync(path.join(__dirname, "..", "cloud-init", "web.yaml"), "utf8") }, { ...v1, userData: fs.readFileSync(path.join(__dirname, "..", "cloud-init", "worker.yaml"), "utf8") }]) {
            for (const member of planMembers("web", { size: 1, release, securityGroupName: "herd-web" })) {
                rendered.add(member.userData);
            }
        }
        for (const [i, userData] of [...rendered].entries()) {
            const file = path.join(dir, `user-data-${i}.yaml`);
            fs.writeFileSync(file, userData);
            const out = execFileSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
            expect(out).to.contain("Valid cloud-config");
        }
        const broken = path.join(dir, "broken.yaml");
        fs.writeFileSync(broken, "#cloud-config\npackages: 3\n");
        expect(() => execFileSync("cloud-init", ["schema", "--config-file", broken], { stdio: "pipe" })).to.throw();
    });
});

describe("hosts a fleet with hard anti-affinity needs", () => {
    it("counts a host per member, plus a batch for create-before-delete, and none for soft anti-affinity", () => {
        expect(hostsNeeded({ size: 12, spread: "anti-affinity", batch: 3, createBeforeDelete: true })).to.equal(15);
        expect(hostsNeeded({ size: 12, spread: "anti-affinity", batch: 3, createBeforeDelete: false })).to.equal(12);
        expect(hostsNeeded({ size: 2, spread: "anti-affinity", batch: 5, createBeforeDelete: true })).to.equal(4);
        expect(hostsNeeded({ size: 12, spread: "soft-anti-affinity", batch: 3, createBeforeDelete: true })).to.equal(0);
        expect(hostsNeeded({ size: 12, batch: 3, createBeforeDelete: true })).to.equal(0);
        expect(hostsNeeded({ size: 0, spread: "anti-affinity", batch: 1, createBeforeDelete: true })).to.equal(0);
        expect(spreadProblem({ size: 12, spread: "anti-affinity", batch: 3, createBeforeDelete: true }, 15)).to.equal(undefined);
        expect(spreadProblem({ size: 12, spread: "anti-affinity", batch: 3, createBeforeDelete: true }, 14)?.key).to.equal("update.order");
        expect(spreadProblem({ size: 12, spread: "anti-affinity", batch: 3, createBeforeDelete: false }, 11)?.key).to.equal("size");
    });

    it("refuses such a fleet in the stack config with the key path, the value and the declared hosts", () => {
        const fleet = (extra: Record<string, unknown>) => ({
            backend: "openstack",
            size: 3,
            release: { image: "debian-12", flavor: "b3-8", network: "ext-net" },
            spread: "anti-affinity",
            ...extra,
        });
        const resolve = (fleets: Record<string, unknown>, openstack: unknown) => () =>
            resolveStack({ fleets, openstack }, { stack: "prod", projectDir: path.resolve(__dirname, "..") });
        expect(resolve({ cache: fleet({ update: { order: "delete-before-create" } }) }, { computeHosts: 3 })).to.not.throw();
        expect(resolve({ cache: fleet({}) }, undefined)).to.not.throw();
        expect(resolve({ cache: fleet({}) }, { computeHosts: 3 }))
            .to.throw(ConfigError)
            .with.property("message")
            .that.matches(/stack "prod".*herd:fleets\.cache\.update\.order.*"create-before-delete".*herd:openstack\.computeHosts = 3 .*3 members \+ a batch of 1 = 4 hosts/s);
        expect(resolve({ cache: fleet({ size: 4, update: { order: "delete-before-create" } }), web: fleet({ size: 5, volume: { size: 1 } }) }, { computeHosts: 3 }))
            .to.throw(ConfigError)
            .with.property("message")
            .that.matches(/herd:fleets\.cache\.size.*\b4\b.*4 members need 4 hosts, the cloud has 3/s)
            .and.matches(/herd:fleets\.web\.size.*\b5\b/s);
        expect(resolve({ cache: fleet({}) }, { computeHosts: 0, hosts: 2 }))
            .to.throw(ConfigError)
            .with.property("message")
            .that.matches(/herd:openstack\.computeHosts/)
            .and.matches(/herd:openstack\.hosts/);
    });
});

describe("the box stack (Pulumi.box.yaml, the OpenStack test's), under mocks", () => {
    it("builds web (4, behind a load balancer) and db (2, hard anti-affinity on the 2 declared hosts, a volume each)", async () => {
        const run = await runStack("box");
        const names = (type: string) => run.ofType(type).map((r) => r.name).sort();
        expect(names(INSTANCE)).to.deep.equal(["db-0", "db-1", "web-0", "web-1", "web-2", "web-3"]);
        expect(names("openstack:loadbalancer/member:Member")).to.deep.equal(["web-0-lb", "web-1-lb", "web-2-lb", "web-3-lb"]);
        expect(names("openstack:blockstorage/volume:Volume")).to.deep.equal(["db-0-data", "db-1-data"]);
        expect(run.named("db-group", "openstack:compute/serverGroup:ServerGroup").inputs).to.include({ name: "herd-box-db" });
        expect(run.named("db-group", "openstack:compute/serverGroup:ServerGroup").inputs.policies).to.deep.equal(["anti-affinity"]);
        // Names, not IDs: the box's IDs change with every start of the cloud.
        expect(run.named("web-0", INSTANCE).inputs).to.include({ imageName: "herd-tiny", flavorName: "m1.small" });
    });
});
