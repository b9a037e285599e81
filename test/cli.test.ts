import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { diffMembers, membersOf, promoteStackFile, rollbackStackFile } from "../components/cli";
import { evaluateStack } from "../components/cli/evaluate";
import { locateProject } from "../components/cli/project";
import { ConfigError, parseStackFile, readStackConfig } from "../components/config";
import type { RecordedOptions, RecordedResource } from "../components/testing";
import { git, herd, temporaryRepositories } from "./helpers/repository";

const REPO = path.resolve(__dirname, "..");
const PROGRAM = path.join(REPO, "index.ts");
const INSTANCE = "openstack:compute/instance:Instance";
const PROD = fs.readFileSync(path.join(REPO, "Pulumi.prod.yaml"), "utf8");
/** The project's stacks, as messages list them. */
const STACKS = fs
    .readdirSync(REPO)
    .flatMap((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1] ?? [])
    .sort()
    .join(", ");
/** The prod fleets, in file order: messages list them. */
const PROD_FLEETS = Object.keys(parseStackFile(PROD, "Pulumi.prod.yaml")["herd:fleets"] as object).join(", ");

// ---------------------------------------------------------------------------------------------
// Recorded resources, as the test kit records them, for the pure diff.

const STACK_URN = "urn:pulumi:prod::herd::";
const groupUrn = (fleet: string) => `${STACK_URN}herd:openstack:ServerGroup::${fleet}`;
const urnOf = (type: string, name: string) => `${STACK_URN}herd:openstack:ServerGroup$${type}::${name}`;

function options(overrides: Partial<RecordedOptions> = {}): RecordedOptions {
    return {
        dependsOn: [],
        replaceOnChanges: [],
        deleteBeforeReplace: false,
        protect: false,
        retainOnDelete: false,
        ignoreChanges: [],
        additionalSecretOutputs: [],
        aliases: [],
        ...overrides,
    };
}

/** An OpenStack member as the ServerGroup registers it: labelled, with a generation trigger. */
function instance(fleet: string, slot: number, generation: string, dependsOn: string[] = []): RecordedResource {
    const name = `${fleet}-${slot}`;
    return {
        urn: urnOf(INSTANCE, name),
        type: INSTANCE,
        name,
        custom: true,
        inputs: {
            name: `${name}-${generation}`,
            metadata: { "herd-fleet": fleet, "herd-slot": String(slot), "herd-generation": generation },
        },
        options: options({ parent: groupUrn(fleet), dependsOn, replacementTrigger: generation }),
    };
}

/** A resource that is not a member: no trigger, no generation label. */
function plain(type: string, name: string, inputs: Record<string, unknown>, dependsOn: string[] = []): RecordedResource {
    return { urn: urnOf(type, name), type, name, custom: true, inputs, options: options({ dependsOn }) };
}

/** A fleet of `generations.length` members in batches of `batch`, each batch waiting for the one before. */
function fleetOf(fleet: string, generations: string[], batch: number): RecordedResource[] {
    const members: RecordedResource[] = [];
    generations.forEach((generation, slot) => {
        const start = Math.floor(slot / batch) * batch;
        const previousBatch = members.slice(Math.max(0, start - batch), start).map((m) => m.urn);
        members.push(instance(fleet, slot, generation, previousBatch));
    });
    return members;
}

// ---------------------------------------------------------------------------------------------
// A temporary git repository holding a copy of the project's stack files and the files they name.

const stackText = (dir: string) => fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8");

/** Every registration of the stack in `dir`, inputs and options, as one string. */
async function recorded(dir: string): Promise<string> {
    const project = locateProject({ stack: "prod", dir, program: PROGRAM }, dir);
    const run = await evaluateStack(project, readStackConfig(dir, "prod"), project.stackFileName);
    return JSON.stringify(run.resources);
}

// ---------------------------------------------------------------------------------------------

describe("herd plan: comparing members (pure)", () => {
    it("finds nothing to do when the members are the same", () => {
        const fleet = fleetOf("web", ["aaaa", "aaaa", "aaaa"], 2);
        expect(diffMembers(fleet, fleetOf("web", ["aaaa", "aaaa", "aaaa"], 2))).to.deep.equal([]);
    });

    it("replaces a member whose generation or inputs change, creates a new URN and deletes a missing one", () => {
        const before = fleetOf("web", ["aaaa", "aaaa", "aaaa", "aaaa"], 2);
        const after = fleetOf("web", ["bbbb", "aaaa", "aaaa"], 2);
        after[2] = { ...after[2], inputs: { ...after[2].inputs, keyPair: "ops" } };
        after.push(instance("api", 0, "cccc"));
        const changes = diffMembers(before, after);
        expect(changes.map((c) => [c.fleet, c.action, c.name, c.batch, c.generation.before, c.generation.after])).to.deep.equal([
            ["api", "create", "api-0", 1, null, "cccc"],
            ["web", "replace", "web-0", 1, "aaaa", "bbbb"],
            ["web", "replace", "web-2", 2, "aaaa", "aaaa"],
            ["web", "delete", "web-3", 2, "aaaa", null],
        ]);
        expect(changes[1]).to.deep.equal({
            action: "replace",
            urn: urnOf(INSTANCE, "web-0"),
            type: INSTANCE,
            name: "web-0",
            fleet: "web",
            slot: 0,
            batch: 1,
            generation: { before: "aaaa", after: "bbbb" },
        });
    });

    it("replaces a member whose replacement trigger alone changes", () => {
        const before = [instance("web", 0, "aaaa")];
        const after = [{ ...before[0], options: { ...before[0].options, replacementTrigger: "other" } }];
        expect(diffMembers(before, after).map((c) => c.action)).to.deep.equal(["replace"]);
    });

    it("ignores resources that are not members (no trigger, no herd-generation)", () => {
        const before = [plain("openstack:networking/secGroup:SecGroup", "web-secgroup", { description: "old" })];
        const after = [plain("openstack:networking/secGroup:SecGroup", "web-secgroup", { description: "new" })];
        expect(diffMembers(before, after)).to.deep.equal([]);
        expect(diffMembers([], after)).to.deep.equal([]);
    });

    it("counts batches along dependency chains, through resources that are not members", () => {
        const first = instance("web", 0, "aaaa");
        const poolMember = plain("openstack:loadbalancer/member:Member", "web-0-lb", { address: "10.0.0.1" }, [first.urn]);
        const second = instance("web", 1, "aaaa", [poolMember.urn]);
        const third = instance("web", 2, "aaaa", [second.urn, first.urn]);
        expect(membersOf([third, poolMember, second, first]).map((m) => [m.name, m.batch])).to.deep.equal([
            ["web-2", 3],
            ["web-1", 2],
            ["web-0", 1],
        ]);
    });

    it("recognises members of any backend by their trigger or labels, with fleet and slot from parent and name", () => {
        const container: RecordedResource = {
            urn: `${STACK_URN}herd:docker:Workload$docker:index/container:Container::cache-1`,
            type: "docker:index/container:Container",
            name: "cache-1",
            custom: true,
            inputs: { image: "redis@sha256:0123", labels: [{ label: "herd.dev/generation", value: "dddd" }] },
            options: options({ parent: `${STACK_URN}herd:docker:Workload::cache`, replacementTrigger: "dddd" }),
        };
        const deployment = (role: string, generation: string, replicas: number): RecordedResource => ({
            urn: `${STACK_URN}herd:kubernetes:Workload$kubernetes:apps/v1:Deployment::api-${role}`,
            type: "kubernetes:apps/v1:Deployment",
            name: `api-${role}`,
            custom: true,
            inputs: {
                metadata: { labels: { "herd.dev/fleet": "api", "herd.dev/role": role } },
                spec: { replicas, template: { metadata: { labels: { "herd.dev/fleet": "api", "herd.dev/role": role, "herd.dev/generation": generation } } } },
            },
            options: options({ parent: `${STACK_URN}herd:kubernetes:Workload::api` }),
        });
        const service = plain("kubernetes:core/v1:Service", "api", { metadata: { labels: { "herd.dev/fleet": "api" } } });
        expect(membersOf([container, deployment("canary", "eeee", 1), service]).map((m) => [m.fleet, m.slot, m.role, m.generation, m.replaced])).to.deep.equal([
            ["cache", 1, null, "dddd", true],
            ["api", null, "canary", "eeee", false],
        ]);
        // A Deployment rolls its pods itself: it is updated in place, not replaced.
        const changes = diffMembers([deployment("stable", "ffff", 5), deployment("canary", "eeee", 1)], [deployment("stable", "eeee", 6)]);
        expect(changes.map((c) => [c.action, c.name, c.generation.before, c.generation.after])).to.deep.equal([
            ["delete", "api-canary", "eeee", null],
            ["update", "api-stable", "ffff", "eeee"],
        ]);
    });
});

describe("herd promote and rollback: rewriting the stack file (pure)", () => {
    const edit = (text: string, fleet = "web") => promoteStackFile(text, "Pulumi.prod.yaml", "prod", fleet);

    it("moves rollout.members to the next wave and changes nothing else, byte for byte", () => {
        const step = edit(PROD);
        expect(step).to.include({ fleet: "web", from: 1, to: 10, complete: false });
        expect(step.slots).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(step.text).to.equal(PROD.replace("        members: 1\n", "        members: 10\n"));
    });

    it("finishes the rollout at all: the whole rollout block goes, as if the release had always been there; comments and layout stay", () => {
        const step = edit(edit(PROD).text);
        expect(step).to.include({ from: 10, to: 12, complete: true, section: "herd:fleets" });
        const rollout = /      rollout:\n        previous:\n(          .*\n)+        members: 1\n        waves: \[1, 10\]\n/.exec(PROD)![0];
        expect(step.text).to.equal(PROD.replace(rollout, ""));
        // So the fleet can grow: a size above the old members needs no previous release.
        expect(() => promoteStackFile(step.text.replace("      size: 12\n", "      size: 14\n"), "Pulumi.prod.yaml", "prod", "web")).to.throw(
            'nothing to promote: all 14 slots of fleet "web" already run its release',
        );
        expect(step.text).to.include("# debian-12-web-2026.11.20").and.include("# node_exporter, scraped from the monitoring network");
    });

    it("drops the whole rollout block at all when it sets no waves", () => {
        const text = [
            "# header",
            "config:",
            "  herd:fleets:",
            "    web:",
            "      backend: openstack",
            "      size: 3",
            "      release: { image: new, flavor: b3-8, network: ext-net }",
            "      # rolling out the new image",
            "      rollout:",
            "        previous: { image: old, flavor: b3-8, network: ext-net }   # the old image",
            "        members: 1   # canary",
            "      spread: anti-affinity   # keep",
            "",
        ].join("\n");
        const step = edit(text);
        expect(step).to.include({ from: 1, to: 3, complete: true });
        expect(step.text).to.equal(text.replace(/      # rolling out.*\n      rollout:\n.*\n.*\n/, ""));
    });

    it("edits flow-style rollouts and keeps the trailing comment of members", () => {
        const text = [
            "config:",
            "  herd:fleets:",
            "    web:",
            "      backend: openstack",
            "      size: 12",
            "      release: { image: new, flavor: b3-8, network: ext-net }",
            "      rollout: { previous: { image: old, flavor: b3-8, network: ext-net }, members: 0, waves: [2, 6] }",
            "    api:",
            "      backend: openstack",
            "      size: 2",
            "      release: { image: new, flavor: b3-8, network: ext-net }",
            "      rollout:",
            "        members: 1   # canary",
            "        previous: { image: old, flavor: b3-8, network: ext-net }",
            "",
        ].join("\n");
        const first = edit(text);
        expect(first.text).to.equal(text.replace("members: 0, waves", "members: 2, waves"));
        const done = edit(edit(first.text).text);
        expect(done).to.include({ from: 6, to: 12, complete: true });
        expect(done.text).to.equal(text.replace("      rollout: { previous: { image: old, flavor: b3-8, network: ext-net }, members: 0, waves: [2, 6] }\n", ""));
        expect(edit(text, "api").text).to.equal(text.replace(/      rollout:\n        members: 1   # canary\n        previous: .*\n/, ""));
        expect(rollbackStackFile(text, "Pulumi.prod.yaml", "prod", "api").text).to.include("        members: 0   # canary\n");
    });

    it("rolls back to members 0, and refuses when there is nothing to roll back", () => {
        const step = rollbackStackFile(PROD, "Pulumi.prod.yaml", "prod", "web");
        expect(step).to.include({ from: 1, to: 0, complete: false });
        expect(step.slots).to.deep.equal([0]);
        expect(step.text).to.equal(PROD.replace("        members: 1\n", "        members: 0\n"));
        expect(() => rollbackStackFile(step.text, "Pulumi.prod.yaml", "prod", "web")).to.throw(
            'nothing to roll back: no slot of fleet "web" runs its release (rollout.members is already 0)',
        );
        expect(() => rollbackStackFile(PROD, "Pulumi.prod.yaml", "prod", "worker")).to.throw(
            'nothing to roll back: fleet "worker" has no rollout.previous to go back to',
        );
    });

    it("refuses when there is nothing to promote, the fleet is unknown, or the file is not a valid stack config", () => {
        expect(() => edit(PROD, "worker")).to.throw('nothing to promote: all 4 slots of fleet "worker" already run its release');
        expect(() => edit(PROD, "db")).to.throw(`unknown fleet "db" in stack "prod" (Pulumi.prod.yaml): fleets are ${PROD_FLEETS}`);
        expect(() => edit("config: [unclosed\n")).to.throw("Pulumi.prod.yaml is not valid YAML");
        expect(() => edit(PROD.replace("size: 12", "size: twelve"))).to.throw(ConfigError, "herd:fleets.web.size");
    });
});

describe("herd command line", function () {
    this.timeout(60_000);
    const repository = temporaryRepositories();

    it("plans a clean stack: every slot's generation, release and wave, no change, exit 0; files come from --dir", async () => {
        const dir = repository();
        const text = await herd(dir, "plan", "--stack", "prod", "--against", "HEAD");
        expect(text.stderr).to.equal("");
        expect(text.code).to.equal(0);
        expect(text.stdout).to.match(/^web \(openstack\): 1\/12 slots on release [0-9a-f]{8}, 11 on previous [0-9a-f]{8}; waves 1 → 10 → 12, next 10$/m);
        expect(text.stdout).to.match(/^ {2}1–9 +[0-9a-f]{8} +previous +2$/m);
        expect(text.stdout).to.include("No changes against HEAD.");

        const json = await herd(dir, "plan", "--stack", "prod", "--json", "--against", "HEAD");
        expect(json.code).to.equal(0);
        const plan = JSON.parse(json.stdout);
        expect(plan).to.deep.include({
            stack: "prod",
            against: { revision: "HEAD", found: true },
            changes: [],
            summary: { create: 0, replace: 0, update: 0, delete: 0 },
            protected: true,
            refusals: [],
        });
        const web = plan.fleets[0];
        expect(web).to.deep.include({ name: "web", size: 12, members: 1, waves: [1, 10, 12], nextWave: 10 });
        expect(web.slots.map((s: { runs: string }) => s.runs)).to.deep.equal(["release", ...Array(11).fill("previous")]);
        expect(web.slots[0].generation).to.equal(web.generations.release);
        expect(web.slots[11]).to.deep.equal({ slot: 11, generation: web.generations.previous, runs: "previous", wave: 3 });

        // The files the stack names are read from --dir, not from the program's directory.
        fs.appendFileSync(path.join(dir, "cloud-init", "worker.yaml"), "final_message: edited in the copy\n");
        const edited = JSON.parse((await herd(dir, "plan", "--stack", "prod", "--json", "--against", "HEAD")).stdout);
        const worker = (p: typeof plan) => p.fleets.find((f: { name: string }) => f.name === "worker").generations.release;
        expect(worker(edited)).to.match(/^[0-9a-f]{8}$/).and.not.equal(worker(plan));
    });

    it("plans every member as created against a revision without the stack file, exit 2", async () => {
        const dir = repository();
        const result = await herd(dir, "plan", "--stack", "prod", "--against", "HEAD~1", "--json");
        expect(result.code).to.equal(2);
        const plan = JSON.parse(result.stdout);
        expect(plan.against).to.deep.equal({ revision: "HEAD~1", found: false });
        expect(plan.changes.length).to.be.greaterThan(16);
        expect(plan.summary).to.deep.equal({ create: plan.changes.length, replace: 0, update: 0, delete: 0 });
        const web = plan.changes.filter((c: { fleet: string }) => c.fleet === "web");
        expect(web.map((c: { slot: number; batch: number }) => [c.slot, c.batch])).to.deep.equal(
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((slot) => [slot, Math.floor(slot / 3) + 1]),
        );
        expect(plan.changes.filter((c: { fleet: string }) => c.fleet === "worker")).to.have.length(4);
    });

    it("compares with the revision's own files: a user data edit alone replaces the members that use it (refused in protected prod)", async () => {
        const dir = repository();
        fs.appendFileSync(path.join(dir, "cloud-init", "worker.yaml"), "timezone: Etc/UTC\n");
        const result = await herd(dir, "plan", "--stack", "prod", "--json");
        // prod is protected: a new release (the user data is part of it) on all 4 workers at once is refused.
        expect(result.code).to.equal(3);
        const plan = JSON.parse(result.stdout);
        expect(plan.summary).to.deep.equal({ create: 0, replace: 4, update: 0, delete: 0 });
        expect([...new Set(plan.changes.map((c: { fleet: string }) => c.fleet))]).to.deep.equal(["worker"]);
        expect(plan.refusals.map((r: { fleet: string; slots: number[] }) => [r.fleet, r.slots])).to.deep.equal([["worker", [0, 1, 2, 3]]]);
        expect(result.stderr).to.equal(`herd: refused in protected stack prod: ${plan.refusals[0].message}\n`);
        expect(plan.refusals[0].message).to.include("`herd release worker --stack prod`");
        git(dir, "commit", "--quiet", "--all", "-m", "workers in UTC");
        expect((await herd(dir, "plan", "--stack", "prod", "--against", "HEAD")).code).to.equal(0);
    });

    it("promotes 1 → 10 → all and is reversible: after git revert, plan and resource inputs equal those two commits back", async () => {
        const dir = repository();
        const original = stackText(dir);

        const toTen = await herd(dir, "promote", "--stack", "prod", "web");
        expect(toTen.stderr).to.equal("");
        expect(toTen.code).to.equal(0);
        expect(toTen.stdout).to.include("Promoted fleet web in Pulumi.prod.yaml: herd:fleets.web.rollout.members 1 → 10, slots 1–9 move to the release.");
        // The plan of the step: slots 1–9, in the fleet's batches of 3, nothing else.
        expect(toTen.stdout).to.match(/^ {4}batch 1 +replace +slots 1–2 +[0-9a-f]{8} → [0-9a-f]{8}$/m);
        expect(toTen.stdout).to.match(/^ {4}batch 4 +replace +slot 9 +/m);
        expect(toTen.stdout).to.include("Plan against HEAD: 0 to create, 9 to replace, 0 to delete.");
        expect(stackText(dir)).to.equal(original.replace("        members: 1\n", "        members: 10\n"));
        git(dir, "commit", "--quiet", "-am", "web: promote to 10");
        const twoCommitsBack = await herd(dir, "plan", "--stack", "prod", "--json", "--against", "HEAD");
        expect(twoCommitsBack.code).to.equal(0);
        const inputsTwoCommitsBack = await recorded(dir);
        const fileTwoCommitsBack = stackText(dir);

        const toAll = await herd(dir, "promote", "--stack", "prod", "web", "--json");
        expect(toAll.code).to.equal(0);
        const step = JSON.parse(toAll.stdout);
        expect(step).to.deep.include({ fleet: "web", from: 10, to: 12, complete: true, slots: [10, 11] });
        expect(step.plan.summary).to.deep.equal({ create: 0, replace: 2, update: 0, delete: 0 });
        git(dir, "commit", "--quiet", "-am", "web: promote to all");
        expect(await herd(dir, "promote", "--stack", "prod", "web")).to.deep.include({ code: 1 });

        git(dir, "revert", "--no-edit", "HEAD");
        const reverted = await herd(dir, "plan", "--stack", "prod", "--json", "--against", "HEAD");
        expect(reverted.code).to.equal(0);
        expect(JSON.parse(reverted.stdout)).to.deep.equal(JSON.parse(twoCommitsBack.stdout));
        expect(reverted.stdout).to.equal(twoCommitsBack.stdout);
        expect(await recorded(dir)).to.equal(inputsTwoCommitsBack);
        expect(stackText(dir)).to.equal(fileTwoCommitsBack);
    });

    it("rolls back every slot to previous, and refuses when there is nothing to roll back", async () => {
        const dir = repository();
        const back = await herd(dir, "rollback", "--stack", "prod", "web");
        expect(back.code).to.equal(0);
        expect(back.stdout).to.include(
            "Rolled back fleet web in Pulumi.prod.yaml: herd:fleets.web.rollout.members 1 → 0, slot 0 goes back to the previous release.",
        );
        expect(back.stdout).to.include("Plan against HEAD: 0 to create, 1 to replace, 0 to delete.");
        git(dir, "commit", "--quiet", "-am", "web: roll back");
        const again = await herd(dir, "rollback", "--stack", "prod", "web");
        expect(again).to.deep.equal({
            code: 1,
            stdout: "",
            stderr: 'herd: nothing to roll back: no slot of fleet "web" runs its release (rollout.members is already 0)\n',
        });
    });

    describe("refuses bad input with one message, exit 1, the stack file untouched", () => {
        let dir: string;
        let original: string;
        before(() => {
            dir = repository();
            original = stackText(dir);
        });
        afterEach(() => expect(stackText(dir)).to.equal(original));

        const cases: [what: string, argv: string[], message: string | RegExp][] = [
            ["an unknown stack", ["plan", "--stack", "qa"], new RegExp(`^herd: unknown stack "qa": .*Pulumi\\.qa\\.yaml does not exist \\(stacks here: ${STACKS}\\)\n$`)],
            ["an unknown stack (promote)", ["promote", "--stack", "qa", "web"], /^herd: unknown stack "qa"/],
            ["an unknown fleet (promote)", ["promote", "--stack", "prod", "db"], `herd: unknown fleet "db" in stack "prod" (Pulumi.prod.yaml): fleets are ${PROD_FLEETS}\n`],
            ["an unknown fleet (rollback)", ["rollback", "--stack", "prod", "db"], `herd: unknown fleet "db" in stack "prod" (Pulumi.prod.yaml): fleets are ${PROD_FLEETS}\n`],
            ["a fleet with nothing to promote", ["promote", "--stack", "prod", "worker"], /^herd: nothing to promote: all 4 slots of fleet "worker" already run its release/],
            ["--against a revision that does not exist", ["plan", "--stack", "prod", "--against", "no-such-branch"], /^herd: no git revision "no-such-branch" in /],
            ["a missing --stack", ["plan"], "error: required option '-s, --stack <name...>' not specified\n"],
            ["an unknown command", ["deploy", "--stack", "prod"], /^error: unknown command 'deploy'/],
        ];
        for (const [what, argv, message] of cases) {
            it(what, async () => {
                const result = await herd(dir, ...argv);
                expect(result.code).to.equal(1);
                expect(result.stdout).to.equal("");
                if (typeof message === "string") {
                    expect(result.stderr).to.equal(message);
                } else {
                    expect(result.stderr).to.match(message);
                }
            });
        }

        it("a stack file with uncommitted changes (promote and rollback), unless --force", async () => {
            const edited = original.replace("# Production", "# Production (edited)");
            fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), edited);
            try {
                for (const command of ["promote", "rollback"]) {
                    const result = await herd(dir, command, "--stack", "prod", "web");
                    expect(result).to.deep.include({ code: 1, stdout: "" });
                    expect(result.stderr).to.equal(
                        "herd: Pulumi.prod.yaml has uncommitted changes: commit or stash them first, so that this step is a commit of its own that git revert can undo (or pass --force)\n",
                    );
                    expect(stackText(dir)).to.equal(edited);
                }
                const forced = await herd(dir, "promote", "--stack", "prod", "web", "--force");
                expect(forced.code).to.equal(0);
                expect(stackText(dir)).to.equal(edited.replace("        members: 1\n", "        members: 10\n"));
            } finally {
                fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), original);
            }
        });

        it("a stack file that is not valid YAML (plan, promote, rollback)", async () => {
            const broken = original.replace("      size: 12\n", "      size: 12\n    size: [\n");
            fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), broken);
            try {
                for (const argv of [["plan", "--stack", "prod"], ["promote", "--stack", "prod", "web", "--force"], ["rollback", "--stack", "prod", "web", "--force"]]) {
                    const result = await herd(dir, ...argv);
                    expect(result).to.deep.include({ code: 1, stdout: "" });
                    expect(result.stderr).to.match(/^herd: Pulumi\.prod\.yaml is not valid YAML: .*line \d+/);
                    expect(result.stderr.trimEnd().split("\n").length).to.be.at.most(8);
                    expect(stackText(dir)).to.equal(broken);
                }
            } finally {
                fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), original);
            }
        });

        it("an invalid config: names the stack, the key path, the value and what is allowed", async () => {
            const invalid = original.replace("        members: 1\n", "        members: 13\n");
            fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), invalid);
            try {
                for (const argv of [["plan", "--stack", "prod"], ["promote", "--stack", "prod", "web", "--force"]]) {
                    const result = await herd(dir, ...argv);
                    expect(result).to.deep.include({ code: 1, stdout: "" });
                    expect(result.stderr).to.equal(
                        'herd: Invalid herd config in stack "prod" (Pulumi.prod.yaml), 1 problem:\n  - herd:fleets.web.rollout.members = 13: expected a whole number from 0 to size (12)\n',
                    );
                    expect(stackText(dir)).to.equal(invalid);
                }
            } finally {
                fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), original);
            }
        });
    });

    it("runs as a program: node --import tsx components/cli/main.ts, exit 2 when the plan has changes", function () {
        const dir = repository();
        fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), stackText(dir).replace("        members: 1\n", "        members: 10\n"));
        const result = spawnSync(
            process.execPath,
            ["--import", "tsx", path.join("components", "cli", "main.ts"), "plan", "--stack", "prod", "--dir", dir, "--program", PROGRAM],
            { cwd: REPO, encoding: "utf8" },
        );
        expect(result.stderr).to.equal("");
        expect(result.status).to.equal(2);
        expect(result.stdout).to.include("Plan against HEAD: 0 to create, 9 to replace, 0 to delete.");
    });
});
