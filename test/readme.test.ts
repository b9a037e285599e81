import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { run } from "../components/cli";
import { GIT_ENV, newRepository } from "./helpers/repository";

/**
 * The README's sample output comes from real runs of the command line. A sample is a fenced
 * block right after a `<!-- herd-sample -->` marker whose first line is `$ herd …`; the marker may
 * carry a shell command that prepares it (`<!-- herd-sample: git commit -qam "…" -->`). Every
 * sample runs in README order, in one fresh repository holding the project's stack files, so a
 * walkthrough's steps build on each other.
 *
 * To refresh the samples after a change of output: HERD_README_OUT=/tmp/README.md npm test -- …
 * writes the README with every block as the run printed it (HERD_README reads another file).
 */
const REPO = path.resolve(__dirname, "..");
const PROGRAM = path.join(REPO, "index.ts");
const README = process.env.HERD_README ?? path.join(REPO, "README.md");
const SAMPLE = /<!-- herd-sample(?:: (.*?))? -->\n```[a-z]*\n([\s\S]*?)```\n/g;

/** What differs from run to run: when a wave went live, its commit. */
function normalize(text: string): string {
    return text.replace(/live since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(commit [0-9a-f]{7}, \d+m ago\)/g, "live since <time> (commit <sha>, <age>)");
}

async function herd(dir: string, argv: string[]): Promise<string> {
    let output = "";
    await run([...argv, "--dir", dir, "--program", PROGRAM], {
        stdout: (text) => (output += text),
        stderr: (text) => (output += text),
        cwd: dir,
    });
    return output;
}

describe("the README's sample output", function () {
    this.timeout(600_000);

    it("is what the command line prints: every marked sample, run in order in a fresh repository", async () => {
        const text = fs.readFileSync(README, "utf8");
        const samples = [...text.matchAll(SAMPLE)];
        expect(samples.length, `samples marked <!-- herd-sample --> in ${README}`).to.be.greaterThan(0);
        const dir = newRepository();
        const stale: string[] = [];
        let refreshed = "";
        let from = 0;
        try {
            for (const sample of samples) {
                const [, setup, body] = sample;
                if (setup) {
                    const prepared = spawnSync("bash", ["-c", setup], { cwd: dir, env: GIT_ENV, encoding: "utf8" });
                    expect(prepared.status, `${setup}: ${prepared.stderr}`).to.equal(0);
                }
                const command = body.split("\n")[0];
                expect(command, "the first line of a sample").to.match(/^\$ herd /);
                const shown = `${command}\n${await herd(dir, command.slice("$ herd ".length).trim().split(/\s+/))}`;
                if (normalize(shown) !== normalize(body)) {
                    stale.push(`${command}\n--- README\n${body}--- run\n${shown}`);
                }
                const at = sample.index + sample[0].indexOf(body);
                refreshed += text.slice(from, at) + shown;
                from = at + body.length;
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
        if (process.env.HERD_README_OUT) {
            fs.writeFileSync(process.env.HERD_README_OUT, refreshed + text.slice(from));
        }
        expect(stale, "README samples that differ from a run (refresh them with HERD_README_OUT)").to.deep.equal([]);
    });
});
