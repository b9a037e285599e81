import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { releaseStackFile, run as runCli } from "../components/cli";
import { GIT_ENV, git, newRepository, temporaryRepositories } from "./helpers/repository";

const REPO = path.resolve(__dirname, "..");
const PROGRAM = path.join(REPO, "index.ts");
const CODE_FLEET = path.join(REPO, "test", "fixtures", "code-fleet.ts");
const PROD = fs.readFileSync(path.join(REPO, "Pulumi.prod.yaml"), "utf8");
const STAGING = fs.readFileSync(path.join(REPO, "Pulumi.staging.yaml"), "utf8");
const NEW_IMAGE = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f";

interface Run {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/** The real command line: `node --import tsx components/cli/main.ts …`, in a project directory. */
function cli(dir: string, ...argv: string[]): Run {
    const result = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "components", "cli", "main.ts"), ...argv, "--dir", dir, "--program", PROGRAM], {
        cwd: REPO,
        encoding: "utf8",
        env: GIT_ENV,
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const read = (dir: string, stack: string) => fs.readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "utf8");

/** The web fleet's rollout block in the committed prod file. */
const WEB_ROLLOUT = /      rollout:\n        previous:\n(?:          .*\n)+        members: 1\n        waves: \[1, 10\]\n/.exec(PROD)![0];

describe("herd release: rewriting the stack file (pure)", () => {
    const worker = { image: NEW_IMAGE, flavor: "b3-16", networks: ["private-net"], keyPair: "ops", userData: "cloud-init/worker.yaml" };

    it("starts a rollout: the release it ran becomes rollout.previous, lines and comments included; members the first wave", () => {
        const step = releaseStackFile(PROD, "Pulumi.prod.yaml", "prod", "worker", { release: worker });
        expect(step).to.include({ fleet: "worker", section: "herd:fleets", from: 0, to: 1, complete: false });
        expect(step.text).to.equal(
            PROD.replace(
                "        image: 3f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73\n        flavor: b3-16\n        networks: [private-net]\n        keyPair: ops\n        userData: cloud-init/worker.yaml\n",
                `        image: ${NEW_IMAGE}\n        flavor: b3-16\n        networks: [private-net]\n        keyPair: ops\n        userData: cloud-init/worker.yaml\n` +
                    "      rollout:\n        previous:\n          image: 3f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73\n          flavor: b3-16\n          networks: [private-net]\n" +
                    "          keyPair: ops\n          userData: cloud-init/worker.yaml\n        members: 1\n",
            ),
        );
    });

    it("after a finished rollout, the next one: the old release's comment goes with it into previous; --waves sets the schedule", () => {
        const finished = PROD.replace(WEB_ROLLOUT, "");
        const release = { image: NEW_IMAGE, flavor: "b3-8", network: "ext-net", keyPair: "ops", userData: "cloud-init/web.yaml" };
        const step = releaseStackFile(finished, "Pulumi.prod.yaml", "prod", "web", { release, waves: [2, 6] });
        expect(step.to).to.equal(2);
        expect(step.text).to.equal(
            finished
                .replace("        image: 3f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73   # debian-12-web-2026.11.20\n", `        image: ${NEW_IMAGE}\n`)
                .replace(
                    "        userData: cloud-init/web.yaml\n      update:",
                    "        userData: cloud-init/web.yaml\n      rollout:\n        previous:\n          image: 3f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73   # debian-12-web-2026.11.20\n" +
                        "          flavor: b3-8\n          network: ext-net\n          keyPair: ops\n          userData: cloud-init/web.yaml\n        members: 2\n        waves: [2, 6]\n      update:",
                ),
        );
    });

    it("refuses mid-rollout (saying how to finish or go back), --all in a protected stack, and the release it runs", () => {
        const web = { image: NEW_IMAGE, flavor: "b3-8", network: "ext-net" };
        expect(() => releaseStackFile(PROD, "Pulumi.prod.yaml", "prod", "web", { release: web })).to.throw(
            'fleet "web" is in the middle of a rollout (1/12 slots on its release): finish it with `herd promote web --stack prod` (until every slot runs it), or go back with `herd rollback web --stack prod`, then release again',
        );
        expect(() => releaseStackFile(PROD, "Pulumi.prod.yaml", "prod", "worker", { release: worker, all: true })).to.throw(
            'stack "prod" is protected (herd:protected: true): a new release reaches the first wave first; drop --all',
        );
        const same = { image: "3f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73", flavor: "b3-16", networks: ["private-net"], keyPair: "ops", userData: "cloud-init/worker.yaml" };
        expect(() => releaseStackFile(PROD, "Pulumi.prod.yaml", "prod", "worker", { release: same })).to.throw(
            'nothing to release: every slot of fleet "worker" in stack "prod" runs that release already',
        );
    });

    it("after a rollback (members 0), starts again from what the slots run: previous stays", () => {
        const rolledBack = PROD.replace("        members: 1\n        waves", "        members: 0\n        waves");
        const release = { image: NEW_IMAGE, flavor: "b3-8", network: "ext-net", keyPair: "ops", userData: "cloud-init/web.yaml" };
        const step = releaseStackFile(rolledBack, "Pulumi.prod.yaml", "prod", "web", { release });
        expect(step.text).to.equal(
            rolledBack
                .replace("        image: 3f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73   # debian-12-web-2026.11.20\n", `        image: ${NEW_IMAGE}\n`)
                .replace("        members: 0\n        waves", "        members: 1\n        waves"),
        );
    });

    it("moves every slot at once with --all in an unprotected stack: no rollout", () => {
        const api = { image: "registry.example.org/api@sha256:" + "a".repeat(64), port: 8080, env: { LOG_LEVEL: "debug" } };
        const step = releaseStackFile(STAGING, "Pulumi.staging.yaml", "staging", "api", { release: api, all: true });
        expect(step).to.include({ from: 0, to: 2, complete: true });
        expect(step.text).to.equal(
            STAGING.replace(/        image: registry\.example\.org\/api@sha256:5b0e[0-9a-f]+\n/, `        image: ${api.image}\n`).replace(
                "        env: { LOG_LEVEL: info }\n",
                "        env: { LOG_LEVEL: debug }\n",
            ),
        );
    });
});

describe("herd release, promote, rollback, plan and status through the real entry point", function () {
    this.timeout(180_000);
    const repository = temporaryRepositories();

    it("release: takes staging's release into prod's first wave; refuses mid-rollout, exit 1, the file untouched", () => {
        const dir = repository();
        const refused = cli(dir, "release", "web", "--stack", "prod", "--from-stack", "staging");
        expect(refused).to.deep.include({ code: 1, stdout: "" });
        expect(refused.stderr).to.match(/^herd: fleet "web" is in the middle of a rollout \(1\/12 slots on its release\): finish it with `herd promote web --stack prod`/);
        expect(read(dir, "prod")).to.equal(PROD);

        fs.writeFileSync(path.join(dir, "Pulumi.staging.yaml"), STAGING.replace(/(    worker:\n(?:.*\n)*?        image: )3f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73/, `$1${NEW_IMAGE}`));
        git(dir, "commit", "--quiet", "-am", "staging: new worker image");
        const released = cli(dir, "release", "worker", "--stack", "prod", "--from-stack", "staging");
        expect(released.stderr).to.equal("");
        expect(released.code).to.equal(0);
        expect(released.stdout).to.include('The release of fleet worker in stack "staging" (Pulumi.staging.yaml).\n');
        expect(released.stdout).to.include(
            "Started the rollout of fleet worker in Pulumi.prod.yaml: herd:fleets.worker.release is the new release, herd:fleets.worker.rollout.previous the one it ran, rollout.members 1: slot 0 moves to it.",
        );
        expect(released.stdout).to.include("Plan against HEAD: 0 to create, 1 to replace, 0 to delete.");
        expect(read(dir, "prod")).to.equal(releaseStackFile(PROD, "Pulumi.prod.yaml", "prod", "worker", { release: { image: NEW_IMAGE, flavor: "b3-16", networks: ["private-net"], keyPair: "ops", userData: "cloud-init/worker.yaml" } }).text);
        git(dir, "commit", "--quiet", "-am", "prod: worker release");
        // The last commit's change, HEAD~1 → HEAD, is allowed in protected prod: one slot.
        const plan = cli(dir, "plan", "--stack", "prod", "--fleet", "worker");
        expect(plan.code).to.equal(2);
        expect(plan.stdout).to.match(/^Pulumi\.prod\.yaml and the project's files have no uncommitted changes: showing the last commit's change, HEAD~1 → HEAD/);
        expect(plan.stdout).to.match(/^ {4}batch 1 +replace +slot 0 +59683397 → [0-9a-f]{8}$/m);
    });

    it("release: a container release goes from dev's Docker fleet to staging's Kubernetes fleet as it is", () => {
        const dir = repository();
        const image = "registry.example.org/api@sha256:" + "c".repeat(64);
        const dev = cli(dir, "release", "api", "--stack", "dev", "--image", image, "--all");
        expect([dev.code, dev.stderr]).to.deep.equal([0, ""]);
        git(dir, "commit", "--quiet", "-am", "dev: api");
        const staging = cli(dir, "release", "api", "--stack", "staging", "--from-stack", "dev", "--all");
        expect([staging.code, staging.stderr]).to.deep.equal([0, ""]);
        expect(staging.stdout).to.include('The release of fleet api in stack "dev" (Pulumi.dev.yaml).\n');
        expect(read(dir, "staging")).to.equal(STAGING.replace(/registry\.example\.org\/api@sha256:5b0e[0-9a-f]+/, image));
    });

    it("release: flags, --set and --release-file over the current release; refuses without a release and with bad input", () => {
        const dir = repository();
        fs.writeFileSync(path.join(dir, "api.json"), JSON.stringify({ env: { LOG_LEVEL: "debug" } }));
        git(dir, "add", "api.json");
        git(dir, "commit", "--quiet", "-m", "a release fragment");
        const staging = cli(dir, "release", "api", "--stack", "staging", "--release-file", path.join(dir, "api.json"), "--set", "args=[--verbose]", "--port", "9090");
        expect(staging.stderr).to.equal("");
        expect(staging.code).to.equal(0);
        expect(read(dir, "staging")).to.equal(
            STAGING.replace("        port: 8080\n        env: { LOG_LEVEL: info }\n", "        port: 9090\n        env: { LOG_LEVEL: debug }\n        args: [--verbose]\n").replace(
                "      update: { batch: 1 }\n      spread: anti-affinity\n      health: { path: /ready, port: 8080 }\n",
                "      rollout:\n        previous:\n          image: registry.example.org/api@sha256:5b0e8c1f3a2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7\n          port: 8080\n          env: { LOG_LEVEL: info }\n        members: 1\n      update: { batch: 1 }\n      spread: anti-affinity\n      health: { path: /ready, port: 8080 }\n",
            ),
        );
        fs.writeFileSync(path.join(dir, "Pulumi.staging.yaml"), STAGING);
        for (const [argv, message] of [
            [["release", "api", "--stack", "staging"], "herd: no new release: give it with --image (and --flavor, --port, … ), --set key=value, --release-file or --from-stack\n"],
            [["release", "api", "--stack", "staging", "--set", "port"], '--set "port": expected key=value'],
            [["release", "api", "--stack", "staging", "--image", "x", "--waves", "10,1"], "--waves 10,1: expected whole numbers ≥ 1, strictly ascending"],
            [["release", "api", "--stack", "staging", "--set", "imgae=x"], 'herd:fleets.api.release.imgae = "x": unknown key; did you mean "image"?'],
            [["release", "api", "--stack", "staging", "--from-stack", "local"], 'herd: --from-stack local: stack "local" (Pulumi.local.yaml) has no fleet "api"\n'],
            [["release", "web", "--stack", "staging", "--from-stack", "dev"], "herd: --from-stack dev: fleet web runs on docker in stack \"dev\" and on openstack here: a container release does not fit a server fleet; give the release with flags instead\n"],
        ] as const) {
            const result = cli(dir, ...argv);
            expect(result.code, argv.join(" ")).to.equal(1);
            expect(result.stdout).to.equal("");
            if (message.endsWith("\n")) {
                expect(result.stderr).to.equal(message);
            } else {
                expect(result.stderr).to.include(message);
            }
            expect(read(dir, "staging")).to.equal(STAGING);
        }
    });

    it("promote to all, then rollback of the next release: exit codes and files byte for byte, comments kept", () => {
        const dir = repository();
        const toTen = cli(dir, "promote", "web", "--stack", "prod");
        expect([toTen.code, toTen.stderr]).to.deep.equal([0, ""]);
        expect(read(dir, "prod")).to.equal(PROD.replace("        members: 1\n", "        members: 10\n"));
        git(dir, "commit", "--quiet", "-am", "web: 10");
        const toAll = cli(dir, "promote", "web", "--stack", "prod");
        expect([toAll.code, toAll.stderr]).to.deep.equal([0, ""]);
        expect(toAll.stdout).to.include("Finished the rollout of fleet web in Pulumi.prod.yaml: slots 10–11 move to the release, all 12 slots run it; herd:fleets.web.rollout removed.");
        const finished = PROD.replace(WEB_ROLLOUT, "");
        expect(read(dir, "prod")).to.equal(finished);
        git(dir, "commit", "--quiet", "-am", "web: all");
        // The fleet can grow now: two more slots are created on the release, nothing else changes.
        fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), finished.replace("      size: 12\n", "      size: 14\n"));
        const grown = cli(dir, "plan", "--stack", "prod", "--fleet", "web", "--json");
        expect(grown.code).to.equal(2);
        expect(JSON.parse(grown.stdout).summary).to.deep.equal({ create: 2, replace: 0, update: 0, delete: 0 });
        fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), finished);

        const release = cli(dir, "release", "web", "--stack", "prod", "--image", NEW_IMAGE);
        expect([release.code, release.stderr]).to.deep.equal([0, ""]);
        git(dir, "commit", "--quiet", "-am", "web: release");
        const back = cli(dir, "rollback", "web", "--stack", "prod");
        expect([back.code, back.stderr]).to.deep.equal([0, ""]);
        expect(back.stdout).to.include("Rolled back fleet web in Pulumi.prod.yaml: herd:fleets.web.rollout.members 1 → 0, slot 0 goes back to the previous release.");
        expect(read(dir, "prod")).to.include("          image: 3f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73   # debian-12-web-2026.11.20\n").and.include("        members: 0\n");
        git(dir, "commit", "--quiet", "-am", "web: back");
        // A rollback is allowed in protected prod; so is starting again.
        expect(cli(dir, "plan", "--stack", "prod", "--fleet", "web").code).to.equal(2);
    });

    it("plan: refuses a jump in protected prod (exit 3, naming herd release), renders Markdown, and says when the tree is clean", () => {
        const dir = repository();
        const clean = cli(dir, "plan", "--stack", "prod", "--fleet", "api");
        // The repository's last commit added the stack files: everything is created.
        expect(clean.stdout).to.match(/^Pulumi\.prod\.yaml and the project's files have no uncommitted changes: showing the last commit's change, HEAD~1 → HEAD/);
        expect(clean.code).to.equal(2);

        fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), PROD.replace("        image: 3f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73\n        flavor: b3-16", `        image: ${NEW_IMAGE}\n        flavor: b3-16`));
        const jump = cli(dir, "plan", "--stack", "prod");
        expect(jump.code).to.equal(3);
        expect(jump.stderr).to.equal("");
        expect(jump.stdout).to.include(
            "Refused: stack prod is protected, and this change moves more than a wave at once:\n  - fleet worker: a new release reaches 4 of 4 slots at once (slots 0–3), more than the first wave (1): in a protected stack (herd:protected: true) start it with `herd release worker --stack prod`, which moves slot 0 first, then `herd promote` wave by wave\n",
        );
        const markdown = cli(dir, "plan", "--stack", "prod", "--format", "markdown", "--fleet", "worker");
        expect(markdown.code).to.equal(3);
        expect(markdown.stderr).to.match(/^herd: refused in protected stack prod: fleet worker: a new release reaches 4 of 4 slots/);
        expect(markdown.stdout).to.match(/^### herd plan: stack `prod` \(protected\)\n\n`Pulumi\.prod\.yaml` against `HEAD`\.\n\n> \[!CAUTION\]\n/);
        expect(markdown.stdout).to.include("| slots | generation | runs | wave |\n| --- | --- | --- | --- |\n");
        expect(markdown.stdout).to.match(/^\| 1 \| replace \| slots 0–1 \| 59683397 → [0-9a-f]{8} \|$/m);
        expect(markdown.stdout).to.include("**Plan against `HEAD`: 0 to create, 4 to replace, 0 to delete.**\n");
        // The same jump in staging, which is not protected, is a plain change.
        expect(cli(dir, "plan", "--stack", "staging", "prod", "--against", "HEAD", "--fleet", "worker").code).to.equal(3);
        fs.writeFileSync(path.join(dir, "Pulumi.staging.yaml"), STAGING.replace("        image: 3f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73\n        flavor: b3-16", `        image: ${NEW_IMAGE}\n        flavor: b3-16`));
        expect(cli(dir, "plan", "--stack", "staging", "--fleet", "worker").code).to.equal(2);
        expect(cli(dir, "plan", "--stack", "prod", "--fleet", "nope").stderr).to.equal('herd: unknown fleet "nope" in stack "prod": fleets are web, worker, api\n');
    });

    it("status: the release per slot range, the wave since its commit, the gate and what to run next", () => {
        const dir = repository();
        // A gate whose Prometheus does not answer (nothing listens on port 1 of loopback): closed, and says why.
        fs.writeFileSync(
            path.join(dir, "Pulumi.prod.yaml"),
            PROD.replace("      alerts: { minHealthy: 10 }\n", "      alerts: { minHealthy: 10 }\n      gate: { prometheus: 'http://127.0.0.1:1', query: 'up', bake: 30m }\n"),
        );
        // The wave went live with the commit that set it, before the gate came.
        const live = git(dir, "rev-parse", "--short=7", "HEAD").trim();
        git(dir, "commit", "--quiet", "-am", "web: a gate");
        const status = cli(dir, "status", "--stack", "prod");
        expect(status.stderr).to.equal("");
        expect(status.code).to.equal(0);
        const lines = status.stdout.split("\n");
        expect(lines[0]).to.equal("Stack prod (protected): Pulumi.prod.yaml");
        expect(status.stdout).to.match(/^web \(openstack\): 1\/12 slots on release [0-9a-f]{8}, 11 on previous [0-9a-f]{8}; waves 1 → 10 → 12, next 10$/m);
        expect(status.stdout).to.match(new RegExp(`^  wave 1 of 3 \\(1/12 slots on the release\\), live since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC \\(commit ${live}, \\d+m ago\\)$`, "m"));
        expect(status.stdout).to.match(/^ {2}gate: closed: .*; bake 30m, baked \d+m$/m);
        expect(status.stdout).to.include("  next: `herd promote web --stack prod` moves slots 1–9 (to 10/12); `herd rollback web --stack prod` goes back\n");
        expect(status.stdout).to.include("  next: every slot runs the release; `herd release worker --stack prod` starts the next\n");
        const json = JSON.parse(cli(dir, "status", "--stack", "prod", "--fleet", "api", "--json").stdout);
        expect(json.fleets.map((f: { name: string; wave: number; waves: number; gate: unknown }) => [f.name, f.wave, f.waves, f.gate])).to.deep.equal([["api", 1, 2, null]]);
    });
});

describe("fleets built in code: their release and rollout in herd:rollouts", function () {
    this.timeout(180_000);
    let dir: string;
    const STACK = "config:\n  # the cache fleet is built in test/fixtures/code-fleet.ts\n  herd:protected: true\n";
    /** The command line, in-process, on the program that builds the fleet in code. */
    async function run(...argv: string[]): Promise<Run> {
        let stdout = "";
        let stderr = "";
        const code = await runCli([...argv, "--dir", dir, "--program", CODE_FLEET], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd: dir });
        return { code, stdout, stderr };
    }
    before(() => {
        dir = newRepository();
        fs.writeFileSync(path.join(dir, "Pulumi.code.yaml"), STACK);
        git(dir, "add", "Pulumi.code.yaml");
        git(dir, "commit", "--quiet", "-m", "a stack for a fleet built in code");
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("release pins the new keys and starts a rollout; promote finishes it; plan and status know the fleet", async () => {
        const released = await run("release", "cache", "--stack", "code", "--image", "registry.example.org/cache@sha256:" + "b".repeat(64));
        expect(released.stderr).to.equal("");
        expect(released.code).to.equal(0);
        const pinned = `${STACK}  herd:rollouts:\n    cache:\n      release: { image: registry.example.org/cache@sha256:${"b".repeat(64)} }\n      rollout:\n        previous: {}\n        members: 1\n`;
        expect(fs.readFileSync(path.join(dir, "Pulumi.code.yaml"), "utf8")).to.equal(pinned);
        expect(released.stdout).to.match(/^cache \(docker\): 1\/3 slots on release [0-9a-f]{8}, 2 on previous [0-9a-f]{8}; waves 1 → 3, next 3$/m);
        git(dir, "commit", "--quiet", "-am", "cache: release");
        const status = await run("status", "--stack", "code");
        expect(status.stdout).to.include("  next: `herd promote cache --stack code` moves slots 1–2 (to 3/3)");
        const promoted = await run("promote", "cache", "--stack", "code");
        expect(promoted.code).to.equal(0);
        expect(fs.readFileSync(path.join(dir, "Pulumi.code.yaml"), "utf8")).to.equal(pinned.replace("      rollout:\n        previous: {}\n        members: 1\n", ""));
        git(dir, "commit", "--quiet", "-am", "cache: all");
        // Another image on every slot at once is refused in this protected stack.
        fs.writeFileSync(path.join(dir, "Pulumi.code.yaml"), fs.readFileSync(path.join(dir, "Pulumi.code.yaml"), "utf8").replace("b".repeat(64), "c".repeat(64)));
        const jump = await run("plan", "--stack", "code");
        expect(jump.code).to.equal(3);
        expect(jump.stdout).to.include("`herd release cache --stack code`");
    });

    it("refuses a key the program's kind of release does not have, before anything is written", async () => {
        git(dir, "checkout", "--quiet", "--", "Pulumi.code.yaml");
        const before = fs.readFileSync(path.join(dir, "Pulumi.code.yaml"), "utf8");
        const result = await run("release", "cache", "--stack", "code", "--flavor", "b3-8");
        expect(result.code).to.equal(1);
        expect(result.stderr).to.include('herd:rollouts.cache.release.flavor = "b3-8": unknown key; a key of a container release');
        expect(fs.readFileSync(path.join(dir, "Pulumi.code.yaml"), "utf8")).to.equal(before);
    });
});
