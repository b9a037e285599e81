import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PolicyPack } from "@pulumi/policy";
import * as YAML from "yaml";
import { guardrails, type PolicyBase } from "./guardrails";

/**
 * The Pulumi project this pack sits in: the nearest folder above it with a Pulumi.yaml (or .yml), which is
 * the checkout for `policy/` and the installing project for `node_modules/pulumi-herd/dist/policy`
 * (the CLI starts a pack in the pack's own folder, so the working folder does not say).
 * HERD_PROJECT_DIR says otherwise, e.g. where node_modules is hoisted above the project.
 */
function findProjectDir(): string {
    for (let dir = path.dirname(__dirname); ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml")) || fs.existsSync(path.join(dir, "Pulumi.yml"))) {
            return dir;
        }
        if (path.dirname(dir) === dir) {
            return path.dirname(__dirname);
        }
    }
}

const projectDir = process.env.HERD_PROJECT_DIR ?? findProjectDir();

function git(...args: string[]): { ok: boolean; stdout: string } {
    const result = spawnSync("git", args, { cwd: projectDir, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    return { ok: result.status === 0, stdout: result.stdout ?? "" };
}

/**
 * The stack config a change is compared with, from git: at HERD_BASE_REVISION (CI sets it to
 * what was deployed last, or the pull request's base), else as `herd plan` chooses: HEAD while
 * the stack file has uncommitted changes, the commit before HEAD once it is committed.
 */
function base(stack: string): PolicyBase | undefined {
    const file = `Pulumi.${stack}.yaml`;
    const dirty = git("status", "--porcelain", "--", file);
    if (!dirty.ok) {
        return undefined;
    }
    const revision = process.env.HERD_BASE_REVISION || (dirty.stdout.trim() !== "" ? "HEAD" : "HEAD~1");
    const show = (name: string) => {
        const shown = git("show", `${revision}:./${name}`);
        return shown.ok ? shown.stdout : undefined;
    };
    const text = show(file);
    if (text === undefined) {
        return git("rev-parse", "--verify", "--quiet", `${revision}^{commit}`).ok ? { fleets: {} } : undefined;
    }
    const config = (YAML.parse(text)?.config ?? {}) as Record<string, unknown>;
    return { fleets: config["herd:fleets"], protected: config["herd:protected"], readFile: show };
}

// The Pulumi CLI hands a policy pack the stack's name and config (PULUMI_NODEJS_STACK,
// PULUMI_CONFIG), which the SDK reads like a program does.
new PolicyPack("herd-guardrails", {
    description: "Guardrails for herd's production stacks.",
    enforcementLevel: "mandatory",
    policies: guardrails({
        stack: () => pulumi.getStack(),
        fleets: () => new pulumi.Config("herd").getObject<unknown>("fleets"),
        protected: () => new pulumi.Config("herd").getObject<unknown>("protected"),
        base: () => base(pulumi.getStack()),
        readFile: (file) => {
            try {
                return fs.readFileSync(path.resolve(projectDir, file), "utf8");
            } catch {
                return undefined;
            }
        },
    }),
});
