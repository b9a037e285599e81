/**
 * The program through the real Pulumi engine: the `engine` stack (Pulumi.engine.yaml) has the
 * Kubernetes provider render manifests to a folder, so no cluster is needed. Mocks see no diffs;
 * this shows with Pulumi's own plan (the JSON of `pulumi preview --json`) that the program's
 * resources are stable, and that a release change replaces what runs the release and nothing
 * else, and that `git revert` of it plans the way back.
 *
 * Not part of `npm test`: scripts/engine-test.sh builds (or finds cached) the engine and runs
 * this file. The project is copied into a temporary git repository, with its state in a local
 * file backend beside it; set HERD_ENGINE_KEEP=1 to keep that folder for a look.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { isScalar, parse, parseDocument, stringify } from "yaml";

const REPO = path.resolve(__dirname, "..", "..");
const STACK = "engine";
const STACK_FILE = `Pulumi.${STACK}.yaml`;
/** The fleet whose release the test changes; the others must be left alone. */
const CHANGED_FLEET = "api";

/** One step of the engine's plan, as `pulumi preview --json` prints it. */
interface Step {
    op: string;
    urn: string;
    diffReasons?: string[];
    replaceReasons?: string[];
    detailedDiff?: Record<string, { kind: string; inputDiff?: boolean }> | null;
    newState?: { type: string; inputs?: Record<string, unknown> };
    oldState?: { type: string; inputs?: Record<string, unknown> };
}
interface Plan {
    steps?: Step[];
    changeSummary?: Record<string, number>;
    diagnostics?: { message: string; severity: string }[];
}

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
}

/** The engine's folder (scripts/engine.sh), built here if the caller did not say. */
function engineDir(): string {
    if (process.env.HERD_ENGINE_DIR) {
        return process.env.HERD_ENGINE_DIR;
    }
    const built = spawnSync("bash", [path.join(REPO, "scripts", "engine.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (built.status !== 0) {
        throw new Error("scripts/engine.sh failed");
    }
    return built.stdout.trim().split("\n").pop() as string;
}

/** The files a checkout of the project has (not what is installed, built or ignored), with the installed node_modules linked in. */
function copyProject(to: string): void {
    const topLevel = new Set(["dist", ".herd"]);
    fs.cpSync(REPO, to, {
        recursive: true,
        filter: (source) => {
            const name = path.basename(source);
            return name !== "node_modules" && name !== ".git" && !(topLevel.has(name) && path.dirname(source) === REPO);
        },
    });
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(to, "node_modules"));
}

const key = (urn: string) => urn.split("::").slice(2).join("::");
const nameOf = (urn: string) => urn.split("::").pop() as string;
const typeOf = (urn: string) => (urn.split("::")[2] ?? "").split("$").pop() as string;

/** URN → the engine's operations on it (a replacement is several steps: create-replacement, replace, delete-replaced). */
function opsByUrn(plan: Plan): Map<string, string[]> {
    const ops = new Map<string, string[]>();
    for (const step of plan.steps ?? []) {
        ops.set(step.urn, [...(ops.get(step.urn) ?? []), step.op]);
    }
    return ops;
}

/** The plan, one line per resource; for a change, what differs (the engine's detailed diff) and what forces a replacement. */
function summary(plan: Plan): string {
    const details = new Map<string, string>();
    for (const step of plan.steps ?? []) {
        if (step.op !== "same") {
            const diff = Object.entries(step.detailedDiff ?? {}).map(([property, d]) => `${property} (${d.kind})`);
            const replace = step.replaceReasons?.length ? `; replaced for ${step.replaceReasons.join(", ")}` : "";
            details.set(step.urn, `: ${diff.join(", ") || (step.diffReasons ?? []).join(", ")}${replace}`);
        }
    }
    return [...opsByUrn(plan)].map(([urn, ops]) => `  ${ops.join("+")} ${key(urn)}${details.get(urn) ?? ""}`).join("\n");
}

/** A rendered Kubernetes object. */
interface Manifest {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string> };
    spec?: unknown;
}

/** Every manifest the provider rendered, by file (`0-crd/…`, `1-manifest/…`). */
function manifests(dir: string): Map<string, Manifest> {
    const found = new Map<string, Manifest>();
    for (const sub of ["0-crd", "1-manifest"]) {
        const folder = path.join(dir, sub);
        if (!fs.existsSync(folder)) {
            continue;
        }
        for (const file of fs.readdirSync(folder).sort()) {
            found.set(`${sub}/${file}`, parse(fs.readFileSync(path.join(folder, file), "utf8")));
        }
    }
    return found;
}

describe(`the program through the real Pulumi engine (stack ${STACK}, Kubernetes rendered to YAML)`, function () {
    this.timeout(10 * 60 * 1000);

    let work: string;
    let project: string;
    let env: NodeJS.ProcessEnv;
    let renderDir: string;
    let released: Map<string, Manifest>;

    function git(...args: string[]): string {
        const result = spawnSync("git", args, { cwd: project, encoding: "utf8", env });
        if (result.status !== 0) {
            throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
        }
        return result.stdout;
    }

    /** The real CLI on the copy, with the program served by test/engine/pulumi.ts. */
    function pulumi(...args: string[]): Run {
        const result = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "test", "engine", "pulumi.ts"), ...args], {
            cwd: project,
            env,
            encoding: "utf8",
            maxBuffer: 256 * 1024 * 1024,
        });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    }

    /** The real CLI alone, for commands that do not run the program. */
    function cli(...args: string[]): Run {
        const result = spawnSync("pulumi", args, { cwd: project, env, encoding: "utf8" });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    }

    function ok(run: Run, what: string): Run {
        if (run.status !== 0) {
            throw new Error(`${what} exited ${run.status}\n--- stdout\n${run.stdout.slice(-20000)}\n--- stderr\n${run.stderr.slice(-20000)}`);
        }
        return run;
    }

    function preview(...args: string[]): Plan {
        const run = ok(pulumi("preview", "--stack", STACK, "--json", "--show-sames", ...args), `pulumi preview ${args.join(" ")}`);
        return JSON.parse(run.stdout) as Plan;
    }

    function up(): void {
        ok(pulumi("up", "--stack", STACK, "--yes", "--skip-preview"), "pulumi up");
    }

    /** The stack file's config, as the program reads it. */
    function stackConfig(): { fleets: Record<string, { backend: string; release: { image: string; env?: Record<string, string> }; rollout?: unknown }> } {
        const config = parse(fs.readFileSync(path.join(project, STACK_FILE), "utf8")).config;
        return { fleets: config["herd:fleets"] };
    }

    before(function () {
        const engine = engineDir();
        work = fs.mkdtempSync(path.join(os.tmpdir(), "herd-engine-"));
        project = path.join(work, "project");
        fs.mkdirSync(path.join(work, "state"));
        copyProject(project);
        env = { ...process.env };
        delete env.KUBECONFIG;
        delete env.PULUMI_ACCESS_TOKEN;
        Object.assign(env, {
            PATH: `${path.join(engine, "bin")}${path.delimiter}${process.env.PATH}`,
            PULUMI_HOME: path.join(engine, "home"),
            PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "herd engine test",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_SKIP_CONFIRMATIONS: "true",
            // No cluster, and no kubeconfig to find one by accident (KUBECONFIG is cleared, ~ is empty).
            HOME: work,
            GIT_AUTHOR_NAME: "herd",
            GIT_AUTHOR_EMAIL: "herd@example.org",
            GIT_COMMITTER_NAME: "herd",
            GIT_COMMITTER_EMAIL: "herd@example.org",
            GIT_CONFIG_NOSYSTEM: "1",
        });
        const settings = parse(fs.readFileSync(path.join(project, STACK_FILE), "utf8")).config["herd:kubernetes"];
        renderDir = path.resolve(project, settings.renderYamlToDirectory);
        // `stack init` adds the passphrase's salt to the stack file and reformats it: keep the
        // file as written, plus the salt, so that the commits below change only what they say.
        const stackFile = path.join(project, STACK_FILE);
        const written = fs.readFileSync(stackFile, "utf8");
        ok(cli("stack", "init", STACK, "--secrets-provider", "passphrase"), "pulumi stack init");
        const salt = parse(fs.readFileSync(stackFile, "utf8")).encryptionsalt as string | undefined;
        fs.writeFileSync(stackFile, salt ? `${written}encryptionsalt: ${salt}\n` : written);
        git("init", "--quiet", "--initial-branch=main");
        git("add", "--all");
        git("commit", "--quiet", "-m", "the project, with the engine stack");
    });

    after(function () {
        if (work && !process.env.HERD_ENGINE_KEEP) {
            fs.rmSync(work, { recursive: true, force: true });
        } else if (work) {
            console.log(`kept ${work}`);
        }
    });

    /** `promtool check rules` on a PrometheusRule's spec. */
    function checkRules(file: string, spec: unknown): void {
        const rules = path.join(work, "rules.yaml");
        fs.writeFileSync(rules, stringify(spec));
        const result = spawnSync("promtool", ["check", "rules", rules], { encoding: "utf8" });
        if (result.error) {
            throw new Error(`promtool is needed to check ${file}: ${result.error.message}`);
        }
        expect(result.status, `promtool check rules ${file}:\n${result.stdout}${result.stderr}`).to.equal(0);
    }

    it("pulumi up succeeds and writes manifests that validate against the Kubernetes schemas", async function () {
        up();
        released = manifests(renderDir);
        expect(released.size, `no manifests in ${renderDir}`).to.be.greaterThan(0);
        const kinds = [...released.values()].map((m) => `${m.apiVersion} ${m.kind}`);
        for (const kind of ["apps/v1 Deployment", "v1 ConfigMap", "v1 Service", "policy/v1 PodDisruptionBudget"]) {
            expect(kinds).to.include(kind);
        }
        const unchecked: string[] = [];
        for (const [file, object] of released) {
            const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : ["", object.apiVersion];
            const modulePath = group ? `kubernetes-models/${group}/${version}/${object.kind}` : `kubernetes-models/${version}/${object.kind}`;
            if (object.apiVersion === "monitoring.coreos.com/v1" && object.kind === "PrometheusRule") {
                // The rules themselves, as Prometheus loads them.
                checkRules(file, object.spec);
                continue;
            }
            let Model: new (data: unknown) => { validate(): void };
            try {
                Model = (await import(modulePath))[object.kind];
            } catch {
                unchecked.push(`${file} (${object.apiVersion} ${object.kind}: no schema in kubernetes-models)`);
                continue;
            }
            try {
                new Model(object).validate();
            } catch (err) {
                throw new Error(`${file} does not validate: ${(err as Error).message}`);
            }
        }
        // Custom resources (Prometheus Operator) have no schema there: say which were not checked.
        if (unchecked.length) {
            console.log(`      not schema-checked:\n${unchecked.map((u) => `        ${u}`).join("\n")}`);
        }
    });

    it("a second pulumi preview reports no changes", function () {
        const plan = preview();
        const changed = (plan.steps ?? []).filter((step) => step.op !== "same");
        expect(changed, `expected no changes:\n${summary(plan)}`).to.deep.equal([]);
        expect(Object.keys(plan.changeSummary ?? {})).to.deep.equal(["same"]);
    });

    /**
     * What a release change must plan for the objects of the fleet that carry the release. The
     * members of a Kubernetes fleet are its pods: the release's ConfigMaps are replaced (a new,
     * content-named object), and the Deployment's pod template points at them and carries the new
     * generation, so the Deployment rolls — replaces — every pod, batch by batch. Replacing the
     * Deployment object itself would put two Deployments with one selector side by side. Everything
     * else (the fleet's Service, PodDisruptionBudget and monitoring, the other fleets, the
     * provider) stays the same.
     */
    const ON_RELEASE_CHANGE: Readonly<Record<string, string>> = {
        "kubernetes:apps/v1:Deployment": "update",
        "kubernetes:core/v1:ConfigMap": "replace",
    };

    /** Asserts that a plan replaces exactly the objects of `fleet` that carry its release, and leaves everything else the same. */
    function expectReleaseReplacement(plan: Plan, fleet: string): void {
        const ops = opsByUrn(plan);
        const expected = (urn: string) => (nameOf(urn).startsWith(`${fleet}-`) && ON_RELEASE_CHANGE[typeOf(urn)]) || "same";
        const carriers = [...ops.keys()].filter((urn) => expected(urn) !== "same");
        expect(carriers.length, `no object of fleet ${fleet} carries its release:\n${summary(plan)}`).to.be.greaterThan(0);
        const wrong = [...ops]
            .filter(([urn, o]) => o.join("+") !== expected(urn))
            .map(([urn, o]) => `${key(urn)}: planned ${o.join("+")}, expected ${expected(urn)}`);
        expect(wrong, `the plan (pulumi preview --diff --json):\n${summary(plan)}\n`).to.deep.equal([]);
    }

    /**
     * Changes the fleet's release in the stack file as a person would: the image digest and an env
     * value, edited in place (the rest of the file, comments and layout, stays as it is).
     */
    function changeRelease(fleet: string): { image: string } {
        const file = path.join(project, STACK_FILE);
        let text = fs.readFileSync(file, "utf8");
        const release = ["config", "herd:fleets", fleet, "release"];
        const edit = (at: string[], change: (value: string) => string): string => {
            const node = parseDocument(text).getIn(at, true);
            if (!isScalar(node) || !node.range) {
                throw new Error(`${STACK_FILE} has no ${at.join(".")}`);
            }
            const [start, end] = node.range;
            const value = change(String(node.value));
            text = text.slice(0, start) + value + text.slice(end);
            return value;
        };
        const image = edit([...release, "image"], (old) => {
            const changed = old.replace(/@sha256:([0-9a-f]{64})$/, (_, digest: string) => `@sha256:${[...digest].reverse().join("")}`);
            expect(changed, `the image of fleet ${fleet} is not pinned by digest`).to.not.equal(old);
            return changed;
        });
        const env = parse(text).config["herd:fleets"][fleet].release.env as Record<string, string> | undefined;
        const variable = Object.keys(env ?? {})[0];
        if (variable) {
            edit([...release, "env", variable], (old) => `${old}-changed`);
        }
        fs.writeFileSync(file, text);
        return { image };
    }

    const deploymentImages = (objects: Map<string, Manifest>, fleet: string) =>
        [...objects.values()]
            .filter((m) => m.kind === "Deployment" && m.metadata.name.startsWith(`${fleet}-`))
            .map((m) => (m as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec.template.spec.containers[0].image)
            .sort();

    let originalImages: string[];
    let changedImage: string;

    it(`a release change of fleet ${CHANGED_FLEET} replaces its ConfigMaps and rolls its Deployments, and leaves every other object alone`, function () {
        originalImages = deploymentImages(released, CHANGED_FLEET);
        // Without a rollout under way, every Deployment of the fleet runs its release.
        const fleet = stackConfig().fleets[CHANGED_FLEET];
        expect(fleet.backend).to.equal("kubernetes");
        expect(fleet.rollout, `fleet ${CHANGED_FLEET} must have no rollout under way`).to.equal(undefined);
        changedImage = changeRelease(CHANGED_FLEET).image;
        git("commit", "--quiet", "--all", "-m", `fleet ${CHANGED_FLEET}: new release`);
        expect(git("show", "--numstat", "--format=", "HEAD").trim()).to.match(/^[12]\t[12]\tPulumi\.engine\.yaml$/);
        const plan = preview("--diff");
        // The new release is what the plan deploys.
        const deployments = (plan.steps ?? []).filter((s) => typeOf(s.urn) === "kubernetes:apps/v1:Deployment" && nameOf(s.urn).startsWith(`${CHANGED_FLEET}-`));
        expect(deployments.length).to.be.greaterThan(0);
        for (const step of deployments) {
            expect(JSON.stringify(step.newState?.inputs)).to.include(changedImage);
        }
        expectReleaseReplacement(plan, CHANGED_FLEET);
    });

    /** The manifests with Pulumi's generated name suffixes blotted out: what a replacement must give back. */
    const withoutSuffixes = (objects: Map<string, Manifest>) =>
        [...objects.values()].map((m) => JSON.stringify(m).replace(/-[0-9a-f]{8}\b/g, "-*")).sort();

    it("git revert of the release change, once applied, plans the way back to the same manifests", function () {
        up();
        const applied = manifests(renderDir);
        expect(deploymentImages(applied, CHANGED_FLEET)).to.deep.equal(originalImages.map(() => changedImage));
        // Replaced objects leave no manifest behind.
        expect(applied.size).to.equal(released.size);

        git("revert", "--no-edit", "HEAD");
        const plan = preview("--diff");
        for (const step of plan.steps ?? []) {
            if (typeOf(step.urn) === "kubernetes:apps/v1:Deployment" && nameOf(step.urn).startsWith(`${CHANGED_FLEET}-`)) {
                expect(JSON.stringify(step.newState?.inputs)).to.include(originalImages[0]).and.not.include(changedImage);
            }
        }
        expectReleaseReplacement(plan, CHANGED_FLEET);

        up();
        expect(withoutSuffixes(manifests(renderDir))).to.deep.equal(withoutSuffixes(released));
        const after = preview();
        expect((after.steps ?? []).filter((s) => s.op !== "same"), `expected no changes:\n${summary(after)}`).to.deep.equal([]);
    });
});
