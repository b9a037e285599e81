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
import * as path from "node:path";
import { expect } from "chai";
import { isScalar, parse, parseDocument, stringify } from "yaml";
import { changes, EngineProject, engineDir, opsByUrn, Plan, summary } from "../helpers/engine";

const STACK = "engine";
const STACK_FILE = `Pulumi.${STACK}.yaml`;
/** The fleet whose release the test changes; the others must be left alone. */
const CHANGED_FLEET = "api";

const key = (urn: string) => urn.split("::").slice(2).join("::");
const nameOf = (urn: string) => urn.split("::").pop() as string;
const typeOf = (urn: string) => (urn.split("::")[2] ?? "").split("$").pop() as string;

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

    let copy: EngineProject;
    let project: string;
    let renderDir: string;
    let released: Map<string, Manifest>;

    const git = (...args: string[]) => copy.git(...args);
    const preview = (...args: string[]): Plan => copy.preview(STACK, ...args);
    const up = () => copy.up(STACK);

    /** The stack file's config, as the program reads it. */
    function stackConfig(): { fleets: Record<string, { backend: string; release: { image: string; env?: Record<string, string> }; rollout?: unknown }> } {
        const config = parse(fs.readFileSync(path.join(project, STACK_FILE), "utf8")).config;
        return { fleets: config["herd:fleets"] };
    }

    before(function () {
        // No cluster: the provider renders manifests to a folder.
        copy = new EngineProject(engineDir());
        project = copy.project;
        const settings = parse(fs.readFileSync(path.join(project, STACK_FILE), "utf8")).config["herd:kubernetes"];
        renderDir = path.resolve(project, settings.renderYamlToDirectory);
        copy.initStack(STACK);
    });

    after(function () {
        copy?.remove();
    });

    /** `promtool check rules` on a PrometheusRule's spec. */
    function checkRules(file: string, spec: unknown): void {
        const rules = path.join(copy.work, "rules.yaml");
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
        expect(changes(plan), `expected no changes:\n${summary(plan)}`).to.deep.equal([]);
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
