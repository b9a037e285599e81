/**
 * The policy pack where users run it: `pulumi preview --policy-pack policy` through the real
 * Pulumi CLI and engine, on the `engine` stack (the Kubernetes provider renders manifests to a
 * folder, so no cluster is needed). test/policy.test.ts checks each rule under mocks; this shows
 * that the CLI starts the pack from `policy/` with the project's own node_modules, that the pack
 * learns the stack's name and config from the engine, and that a violation fails the preview with
 * the policy's own message.
 *
 * The CLI runs a Node.js policy pack through the `nodejs` language host; scripts/engine.sh
 * installs scripts/pulumi-language-nodejs.js as that host when the Go module proxy serves no
 * real one. Not part of `npm test`: scripts/engine-test.sh runs this file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { isScalar, parseDocument } from "yaml";
import { guardrails } from "../../policy/guardrails";
import { EngineProject, engineDir, Run } from "../helpers/engine";

const STACK = "engine";
const PACK = "herd-guardrails";
/** The fleet the violating change is made to. */
const FLEET = "api";
const TAG = "registry.example.org/api:1.4";

/** The names of the pack's policies. */
const POLICIES = guardrails({ stack: () => "", fleets: () => undefined }).map((policy) => policy.name);

describe(`the policy pack through the real Pulumi engine (pulumi preview --policy-pack policy, stack ${STACK})`, function () {
    this.timeout(10 * 60 * 1000);

    let copy: EngineProject;
    /** A --policy-pack-config that has every policy hold the engine stack, as it holds prod. */
    let forEngineStack: string;

    before(function () {
        copy = new EngineProject(engineDir());
        copy.initStack(STACK);
        forEngineStack = path.join(copy.work, "guardrails.json");
        fs.writeFileSync(forEngineStack, JSON.stringify(Object.fromEntries(POLICIES.map((name) => [name, { stacks: [STACK] }]))));
    });

    after(function () {
        copy?.remove();
    });

    /** `pulumi preview --policy-pack policy`, timed; the output of both streams together. */
    function previewWithPack(...args: string[]): Run & { output: string } {
        const started = Date.now();
        const run = copy.pulumi("preview", "--stack", STACK, "--color", "never", "--policy-pack", "policy", ...args);
        console.log(`      pulumi preview --policy-pack policy ${args.join(" ")}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        return { ...run, output: `${run.stdout}\n${run.stderr}` };
    }

    /** Edits a scalar of fleet FLEET (`size`, `release.image`) in the stack file in place, as a person would. */
    function setFleet(key: string, value: string | number): void {
        const file = copy.stackFile(STACK);
        const text = fs.readFileSync(file, "utf8");
        const node = parseDocument(text).getIn(["config", "herd:fleets", FLEET, ...key.split(".")], true);
        if (!isScalar(node) || !node.range) {
            throw new Error(`Pulumi.${STACK}.yaml has no herd:fleets.${FLEET}.${key}`);
        }
        fs.writeFileSync(file, text.slice(0, node.range[0]) + String(value) + text.slice(node.range[1]));
    }

    it("the stack as it is passes every policy", function () {
        const run = previewWithPack("--policy-pack-config", forEngineStack);
        expect(run.status, run.output).to.equal(0);
        expect(run.output).to.match(new RegExp(`✅ ${PACK}@v[\\d.]+ \\(local: policy\\)`));
    });

    it(`a fleet of one member on an image by tag fails the preview with the policies' own messages`, function () {
        setFleet("size", 1);
        setFleet("release.image", TAG);
        const run = previewWithPack("--policy-pack-config", forEngineStack);
        expect(run.status, run.output).to.not.equal(0);
        expect(run.output).to.match(new RegExp(`❌ ${PACK}@v[\\d.]+ \\(local: policy\\)`));
        expect(run.output).to.include("[mandatory]  images-pinned");
        expect(run.output).to.include(
            `Deployment "${FLEET}-stable" container "app" runs image "${TAG}" by tag: pin it by digest (name@sha256:…) so every member runs the same bytes`,
        );
        expect(run.output).to.include("[mandatory]  herd-fleet-redundancy");
        expect(run.output).to.include(
            `fleet "${FLEET}" (herd:kubernetes:Workload) has 1 member: prod fleets need at least 2, so that losing one host does not take the fleet down`,
        );
    });

    it("with the pack's own settings the same change passes: the pack knows the stack is not prod", function () {
        const run = previewWithPack();
        expect(run.status, run.output).to.equal(0);
        expect(run.output).to.match(new RegExp(`✅ ${PACK}@v[\\d.]+ \\(local: policy\\)`));
    });
});
