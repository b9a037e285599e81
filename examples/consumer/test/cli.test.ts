import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";

const project = path.join(__dirname, "..");
/** The `herd` command of the installed package `pulumi-herd`, the link `npx herd` runs. */
const HERD = path.join(project, "node_modules", ".bin", "herd");
const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.org", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.org", GIT_CONFIG_NOSYSTEM: "1", HOME: os.tmpdir() };

function git(dir: string, ...args: string[]): void {
    const result = spawnSync("git", args, { cwd: dir, env: GIT_ENV, encoding: "utf8" });
    expect(result.status, result.stderr).to.equal(0);
}

function herd(dir: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [HERD, ...args, "--stack", "test"], { cwd: dir, encoding: "utf8" });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("herd release, promote and rollback on a fleet built in code (herd:rollouts)", function () {
    this.timeout(180_000);
    let dir: string;
    const stackFile = () => fs.readFileSync(path.join(dir, "Pulumi.test.yaml"), "utf8");
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-consumer-"));
        for (const file of ["index.ts", "Pulumi.yaml", "Pulumi.test.yaml", "package.json", "tsconfig.json"]) {
            fs.copyFileSync(path.join(project, file), path.join(dir, file));
        }
        fs.symlinkSync(path.join(project, "node_modules"), path.join(dir, "node_modules"));
        fs.writeFileSync(path.join(dir, ".gitignore"), "node_modules\n");
        git(dir, "init", "--quiet", "--initial-branch=main");
        git(dir, "add", "--all");
        git(dir, "commit", "--quiet", "-m", "the consumer project");
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("shows the fleet's slots and wave, and finishes its rollout: rollout removed, release kept", () => {
        const status = herd(dir, "status", "--fleet", "edge");
        expect(status.stderr).to.equal("");
        expect(status.code).to.equal(0);
        expect(status.stdout).to.match(/^edge \(openstack\): 1\/3 slots on release [0-9a-f]{8}, 2 on previous [0-9a-f]{8}; waves 1 → 3, next 3$/m);

        const original = stackFile();
        const promote = herd(dir, "promote", "edge");
        expect(promote.stderr).to.equal("");
        expect(promote.code).to.equal(0);
        expect(promote.stdout).to.include("Finished the rollout of fleet edge in Pulumi.test.yaml: slots 1–2 move to the release, all 3 slots run it; herd:rollouts.edge.rollout removed.");
        expect(stackFile()).to.equal(original.replace("      rollout:\n        previous: {}\n        members: 1\n", ""));
        git(dir, "commit", "--quiet", "-am", "edge: all");
    });

    it("starts the next rollout with herd release, and rolls it back", () => {
        const before = stackFile();
        const release = herd(dir, "release", "edge", "--image", "9c8b7a6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d");
        expect(release.stderr).to.equal("");
        expect(release.code).to.equal(0);
        expect(release.stdout).to.include("Plan against HEAD: 0 to create, 1 to replace, 0 to delete.");
        expect(stackFile()).to.equal(
            before.replace(
                "      release: { image: 0b5e7a3c-9d1f-4c2e-8a6b-3f4d5e6a7b8c }\n",
                "      release: { image: 9c8b7a6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d }\n      rollout:\n        previous: { image: 0b5e7a3c-9d1f-4c2e-8a6b-3f4d5e6a7b8c }\n        members: 1\n",
            ),
        );
        git(dir, "commit", "--quiet", "-am", "edge: release");
        const plan = herd(dir, "plan");
        expect(plan.code).to.equal(2);
        expect(plan.stdout).to.match(/^ {4}batch 1 +replace +slot 0 +[0-9a-f]{8} → [0-9a-f]{8}$/m);

        const rollback = herd(dir, "rollback", "edge");
        expect(rollback.code).to.equal(0);
        expect(stackFile()).to.include("      rollout:\n        previous: { image: 0b5e7a3c-9d1f-4c2e-8a6b-3f4d5e6a7b8c }\n        members: 0\n");
    });
});
