import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { run } from "../components/cli";
import { writeFileAtomic, type WriteFs } from "../components/cli/atomicWrite";
import { unexpected } from "../components/cli/main";
import { isAtLeast, MINIMUM_NODE, nodeTooOld } from "../components/cli/nodeVersion";
import { isSecureValue, secretMarker, withOpaqueSecrets } from "../components/cli/secrets";
import { git, herd, herdWith, newRepository, Result } from "./helpers/repository";

const REPO = path.resolve(__dirname, "..");
const PROGRAM = path.join(REPO, "index.ts");
const MAIN = path.join(REPO, "components", "cli", "main.ts");
const STACK = "Pulumi.prod.yaml";
const NAME = `${STACK} (stack "prod")`;

const stackPath = (dir: string) => path.join(dir, STACK);
const stackText = (dir: string) => fs.readFileSync(stackPath(dir), "utf8");
const promoted = (text: string) => text.replace("        members: 1\n", "        members: 10\n");

/** An error as node's fs throws it. */
function fsError(code: string, syscall: string): NodeJS.ErrnoException {
    return Object.assign(new Error(`${code}: failed, ${syscall}`), { code, errno: -1, syscall });
}

/** `herd …` as its own process, through the CLI's entry module, as users run it. */
function herdProcess(dir: string, ...argv: string[]): { child: ChildProcess; result: Promise<Result> } {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...argv, "--dir", dir, "--program", PROGRAM], { cwd: REPO });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk) => (stdout += chunk));
    child.stderr?.on("data", (chunk) => (stderr += chunk));
    const result = new Promise<Result>((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr })));
    return { child, result };
}

/** Runs `script` (CommonJS, with TypeScript imports) in a child process, in `shell` limits. */
function nodeScript(script: string, limits = ""): ReturnType<typeof spawnSync> {
    return spawnSync("bash", ["-c", `${limits} exec "$0" --import tsx -e "$1"`, process.execPath, script], { cwd: REPO, encoding: "utf8" });
}

const repositories: string[] = [];
function repository(): string {
    const dir = newRepository();
    repositories.push(dir);
    return dir;
}
after(() => repositories.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

describe("the stack file is never lost or half-written", function () {
    this.timeout(120_000);

    describe("a write that fails leaves it byte-identical, with one line saying why", () => {
        let dir: string;
        let original: string;
        before(() => {
            dir = repository();
            original = stackText(dir);
        });
        afterEach(() => {
            expect(stackText(dir)).to.equal(original);
            // Neither the temporary file nor the lock is left behind.
            expect(fs.readdirSync(dir).filter((f) => f.startsWith(STACK))).to.deep.equal([STACK]);
        });

        /**
         * The real file system, but `call` fails with `code` on the stack file (after a short write
         * of `written` bytes, for a write); the lock, written as a string, is left alone.
         */
        function failing(call: keyof WriteFs, code: string, written?: number): typeof fs {
            const real = fs[call] as (...args: unknown[]) => unknown;
            let wrote = false;
            const fault = (...args: unknown[]) => {
                const onLock = (call === "openSync" && String(args[0]).endsWith(".lock")) || (call === "writeSync" && !Buffer.isBuffer(args[1]));
                if (onLock) {
                    return real(...args);
                }
                if (written !== undefined && !wrote) {
                    wrote = true;
                    return written;
                }
                throw fsError(code, call);
            };
            return { ...fs, [call]: fault } as typeof fs;
        }

        const cases: [what: string, call: keyof WriteFs, code: string, reason: string, written?: number][] = [
            ["a full disk", "writeSync", "ENOSPC", "no space left on the device (ENOSPC)"],
            ["a full disk after a short write", "writeSync", "ENOSPC", "no space left on the device (ENOSPC)", 100],
            ["a file size limit after a short write", "writeSync", "EFBIG", "the file size limit (ulimit -f) is too small for it (EFBIG)", 1024],
            ["an exhausted quota", "fsyncSync", "EDQUOT", "the disk quota is exhausted (EDQUOT)"],
            ["an I/O error on fsync", "fsyncSync", "EIO", "an I/O error (EIO)"],
            ["a read-only file system", "openSync", "EROFS", "the file system is read-only (EROFS)"],
            ["a folder it may not write", "openSync", "EACCES", "permission denied (EACCES)"],
            ["a rename refused", "renameSync", "EPERM", "operation not permitted (EPERM): is the file or its folder immutable (chattr +i)?"],
        ];
        for (const [what, call, code, reason, written] of cases) {
            it(`${what} (${code} on ${call})`, async () => {
                const result = await herdWith(failing(call, code, written), dir, "promote", "--stack", "prod", "web");
                expect(result).to.deep.equal({ code: 1, stdout: "", stderr: `herd: cannot write ${NAME}: ${reason}; the file is unchanged\n` });
            });
        }

        it("a file without any write bit, even for root", async () => {
            fs.chmodSync(stackPath(dir), 0o444);
            try {
                const result = await herd(dir, "promote", "--stack", "prod", "web");
                expect(result).to.deep.equal({
                    code: 1,
                    stdout: "",
                    stderr: `herd: cannot write ${NAME}: it is read-only (mode 0444); make it writable first; the file is unchanged\n`,
                });
            } finally {
                fs.chmodSync(stackPath(dir), 0o644);
            }
        });

        for (const [what, target] of [
            ["an immutable file (chattr +i)", STACK],
            ["an immutable folder (chattr +i)", "."],
        ] as const) {
            it(what, async function () {
                const file = path.join(dir, target);
                if (spawnSync("chattr", ["+i", file]).status !== 0) {
                    this.skip(); // no chattr, or a file system or container that refuses it
                }
                try {
                    const result = await herd(dir, "promote", "--stack", "prod", "web");
                    const lock = target === "." ? `cannot create its lock file ${stackPath(dir)}.lock: ` : "";
                    expect(result).to.deep.equal({
                        code: 1,
                        stdout: "",
                        stderr: `herd: cannot write ${NAME}: ${lock}operation not permitted (EPERM): is the file or its folder immutable (chattr +i)?; the file is unchanged\n`,
                    });
                } finally {
                    spawnSync("chattr", ["-i", file]);
                }
            });
        }

        it("a file changed by someone else while the step was planned: not overwritten", async () => {
            const edited = `${original}# edited meanwhile\n`;
            const files = {
                ...fs,
                fsyncSync: (fd: number) => {
                    fs.writeFileSync(stackPath(dir), edited);
                    fs.fsyncSync(fd);
                },
            };
            try {
                const result = await herdWith(files, dir, "promote", "--stack", "prod", "web", "--force");
                expect(result).to.deep.equal({
                    code: 1,
                    stdout: "",
                    stderr: `herd: not writing ${NAME}: it changed since herd read it (another command or an editor wrote it); look at it and run the command again\n`,
                });
                expect(stackText(dir)).to.equal(edited);
            } finally {
                fs.writeFileSync(stackPath(dir), original);
            }
        });
    });

    it("keeps the file's mode, its missing trailing newline, and a symbolic link to it", async () => {
        const dir = repository();
        const real = path.join(dir, "stacks", STACK);
        fs.mkdirSync(path.dirname(real));
        fs.renameSync(stackPath(dir), real);
        fs.writeFileSync(real, fs.readFileSync(real, "utf8").replace(/\n$/, ""));
        fs.chmodSync(real, 0o640);
        fs.symlinkSync(path.join("stacks", STACK), stackPath(dir));
        const before = fs.readFileSync(real, "utf8");
        const result = await herd(dir, "promote", "--stack", "prod", "web", "--force");
        expect(result.stderr).to.equal("");
        expect(result.code).to.equal(0);
        expect(fs.lstatSync(stackPath(dir)).isSymbolicLink()).to.equal(true);
        expect(fs.readFileSync(real, "utf8")).to.equal(promoted(before));
        expect(fs.statSync(real).mode & 0o7777).to.equal(0o640);
    });

    it("a real file size limit (ulimit -f) fails the write with EFBIG, the file byte-identical", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-efbig-"));
        repositories.push(dir);
        const file = path.join(dir, STACK);
        fs.writeFileSync(file, "config: {}\n");
        const script = `
            const { writeFileAtomic } = require(${JSON.stringify(path.join(REPO, "components", "cli", "atomicWrite.ts"))});
            try {
                writeFileAtomic(${JSON.stringify(file)}, "# padding\\n".repeat(2000), { name: "Pulumi.prod.yaml" });
            } catch (err) {
                process.stdout.write(err.message);
            }`;
        // bash counts ulimit -f in blocks of 1024 bytes: 4 KiB, less than the 20 KB written.
        const result = nodeScript(script, "ulimit -f 4;");
        expect(result.stdout).to.equal("cannot write Pulumi.prod.yaml: the file size limit (ulimit -f) is too small for it (EFBIG); the file is unchanged");
        expect(fs.readFileSync(file, "utf8")).to.equal("config: {}\n");
        expect(fs.readdirSync(dir)).to.deep.equal([STACK]);
    });

    it("a kill in the middle of the write leaves the file byte-identical", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-kill-"));
        repositories.push(dir);
        const file = path.join(dir, STACK);
        fs.writeFileSync(file, "config: {}\n");
        // The write stops before its fsync, the new text half on disk, until the process is killed.
        const script = `
            const fs = require("node:fs");
            const { writeFileAtomic } = require(${JSON.stringify(path.join(REPO, "components", "cli", "atomicWrite.ts"))});
            const hang = () => { process.stdout.write("writing\\n"); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); };
            writeFileAtomic(${JSON.stringify(file)}, "config: { replaced: true }\\n", { name: "Pulumi.prod.yaml", fs: { ...fs, fsyncSync: hang } });`;
        const child = spawn(process.execPath, ["--import", "tsx", "-e", script], { cwd: REPO });
        await new Promise<void>((resolve) => child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("writing") && resolve()));
        child.kill("SIGKILL");
        await new Promise((resolve) => child.on("close", resolve));
        expect(fs.readFileSync(file, "utf8")).to.equal("config: {}\n");
        // What the killed process had written is in its temporary file, beside the stack file.
        const left = fs.readdirSync(dir).filter((f) => f !== STACK);
        expect(left).to.have.length(1);
        expect(left[0]).to.match(/^Pulumi\.prod\.yaml\.herd-\d+-[0-9a-f]{8}\.tmp$/);
        expect(fs.readFileSync(path.join(dir, left[0]), "utf8")).to.equal("config: { replaced: true }\n");
    });

    it("writes directly through writeFileAtomic: new text, same mode, nothing else left", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-atomic-"));
        repositories.push(dir);
        const file = path.join(dir, STACK);
        fs.writeFileSync(file, "old\n", { mode: 0o600 });
        writeFileAtomic(file, "new\n", { name: STACK, expected: "old\n" });
        expect(fs.readFileSync(file, "utf8")).to.equal("new\n");
        expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
        expect(fs.readdirSync(dir)).to.deep.equal([STACK]);
    });
});

describe("two commands on one stack at once", function () {
    this.timeout(180_000);

    it("two promotes as two processes: the file holds both steps, or one refused and the file holds the other's", async () => {
        const dir = repository();
        const original = stackText(dir);
        const first = herdProcess(dir, "promote", "--stack", "prod", "web", "--force");
        const second = herdProcess(dir, "promote", "--stack", "prod", "web", "--force");
        const results = await Promise.all([first.result, second.result]);
        const refused = results.filter((r) => r.code !== 0);
        const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        const lockMessage = new RegExp(
            `^herd: ${escape(NAME)} is locked by another herd command \\(pid \\d+ on ${escape(os.hostname())}, since \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z\\): ` +
                `run this one when it has finished; if no herd command is running, delete ${escape(stackPath(dir))}\\.lock\\n$`,
        );
        if (refused.length === 0) {
            // One after the other: 1 → 10, then 10 → 12.
            expect(results.map((r) => /members (\d+ → \d+)/.exec(r.stdout)?.[1] ?? /Finished the rollout/.exec(r.stdout)?.[0]).sort()).to.deep.equal([
                "1 → 10",
                "Finished the rollout",
            ]);
            expect(stackText(dir)).to.contain("        members: 12\n").and.not.contain("previous:\n          image: 8a2e4c1d");
        } else {
            expect(refused).to.have.length(1);
            expect(refused[0]).to.deep.include({ code: 1, stdout: "" });
            expect(refused[0].stderr).to.match(lockMessage);
            expect(stackText(dir)).to.equal(promoted(original));
        }
        expect(fs.existsSync(`${stackPath(dir)}.lock`)).to.equal(false);
    });

    it("refuses while a live command holds the lock, and takes over the lock of a command that was killed", async () => {
        const dir = repository();
        const lock = `${stackPath(dir)}.lock`;
        fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), since: "2026-11-27T12:00:00.000Z" }));
        const held = await herd(dir, "promote", "--stack", "prod", "web");
        expect(held).to.deep.equal({
            code: 1,
            stdout: "",
            stderr: `herd: ${NAME} is locked by another herd command (pid ${process.pid} on ${os.hostname()}, since 2026-11-27T12:00:00.000Z): run this one when it has finished; if no herd command is running, delete ${lock}\n`,
        });
        const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
        fs.writeFileSync(lock, JSON.stringify({ pid: Number(gone.stdout), host: os.hostname(), since: "2026-11-27T12:00:00.000Z" }));
        const taken = await herd(dir, "promote", "--stack", "prod", "web");
        expect(taken.stderr).to.equal("");
        expect(taken.code).to.equal(0);
        expect(fs.existsSync(lock)).to.equal(false);
    });
});

describe("herd plan validates what it reads, on both sides, whatever the revision", function () {
    this.timeout(120_000);
    const NOTHING = path.join(REPO, "test", "fixtures", "validates-nothing.ts");
    const truncate = (text: string) => text.slice(0, text.indexOf("      size: 6\n") + "      size: 6\n".length);
    const missingRelease =
        'Invalid herd config in stack "prod" (Pulumi.prod.yaml), 1 problem:\n' +
        "  - herd:fleets.api.release is missing: required, an object with keys image, port, command, args, env, files\n";

    /** `herd plan` with a program of its own that validates nothing. */
    async function plan(dir: string, ...argv: string[]): Promise<Result> {
        let stdout = "";
        let stderr = "";
        const code = await run(["plan", "--stack", "prod", "--dir", dir, "--program", NOTHING, ...argv], {
            stdout: (text) => (stdout += text),
            stderr: (text) => (stderr += text),
            cwd: dir,
        });
        return { code, stdout, stderr };
    }

    it("refuses a truncated file in the work tree", async () => {
        const dir = repository();
        fs.writeFileSync(stackPath(dir), truncate(stackText(dir)));
        expect(await plan(dir)).to.deep.equal({ code: 1, stdout: "", stderr: `herd: ${missingRelease}` });
    });

    it("refuses a truncated file at HEAD, and at an older revision given with --against", async () => {
        const dir = repository();
        const original = stackText(dir);
        fs.writeFileSync(stackPath(dir), truncate(original));
        git(dir, "commit", "--quiet", "-am", "truncated by a bad merge");
        fs.writeFileSync(stackPath(dir), original);
        expect(await plan(dir)).to.deep.equal({
            code: 1,
            stdout: "",
            stderr: `herd: cannot compare with Pulumi.prod.yaml at HEAD, whose config is invalid:\n${missingRelease}`,
        });
        git(dir, "commit", "--quiet", "-am", "restored");
        expect(await plan(dir, "--against", "HEAD~1")).to.deep.equal({
            code: 1,
            stdout: "",
            stderr: `herd: cannot compare with Pulumi.prod.yaml at HEAD~1, whose config is invalid:\n${missingRelease}`,
        });
        expect((await plan(dir, "--against", "HEAD")).code).to.equal(0);
    });

    it("refuses a revision whose herd:fleets is gone, or is not a map", async () => {
        const dir = repository();
        const original = stackText(dir);
        for (const [mangled, problem] of [
            ["config:\n  openstack:region: GRA11\n", "herd:fleets is missing: required, a map of fleet name → fleet ({ backend, size, release, … })"],
            ["config:\n  herd:fleets: [web, api]\n", 'herd:fleets = ["web","api"]: expected a map of fleet name → fleet ({ backend, size, release, … })'],
        ]) {
            fs.writeFileSync(stackPath(dir), mangled);
            git(dir, "commit", "--quiet", "-am", "mangled");
            fs.writeFileSync(stackPath(dir), original);
            expect(await plan(dir)).to.deep.equal({
                code: 1,
                stdout: "",
                stderr: `herd: cannot compare with Pulumi.prod.yaml at HEAD, whose config is invalid:\nInvalid herd config in stack "prod" (Pulumi.prod.yaml), 1 problem:\n  - ${problem}\n`,
            });
        }
    });
});

describe("encrypted values (secure:) in a stack file", function () {
    this.timeout(120_000);
    const CIPHERTEXT = "v1:Zm9vYmFyYmF6cXV4:c2VjcmV0LWNpcGhlcnRleHQtb2YtdGhlLXRva2Vu";
    const OTHER = "v1:b3RoZXJzYWx0eHl6:YW5vdGhlci1jaXBoZXJ0ZXh0LWZvci1hLW5ldy10b2tlbg==";
    /** The api fleet's env as `pulumi config set --secret --path 'herd:fleets.api.release.env.TOKEN'` writes it. */
    const withSecret = (text: string, ciphertext = CIPHERTEXT) =>
        text.replace(
            "        env: { LOG_LEVEL: info }\n      rollout:",
            `        env:\n          LOG_LEVEL: info\n          TOKEN:\n            secure: ${ciphertext}\n      rollout:`,
        );

    it("stand for an opaque marker, deterministic, that follows the ciphertext", () => {
        expect(isSecureValue({ secure: CIPHERTEXT })).to.equal(true);
        expect(isSecureValue({ secure: CIPHERTEXT, other: 1 })).to.equal(false);
        expect(secretMarker({ secure: CIPHERTEXT })).to.match(/^\[secret [0-9a-f]{8}\]$/);
        expect(secretMarker({ secure: CIPHERTEXT })).to.equal(secretMarker({ secure: CIPHERTEXT })).and.not.equal(secretMarker({ secure: OTHER }));
        expect(withOpaqueSecrets({ a: [{ secure: CIPHERTEXT }], b: { c: 1 } })).to.deep.equal({ a: [secretMarker({ secure: CIPHERTEXT })], b: { c: 1 } });
    });

    it("herd plan, promote and rollback evaluate the stack; a changed secret plans as a new release", async () => {
        const dir = repository();
        fs.writeFileSync(stackPath(dir), withSecret(stackText(dir)));
        git(dir, "commit", "--quiet", "-am", "api: a secret token");
        const planned = await herd(dir, "plan", "--stack", "prod", "--json", "--against", "HEAD");
        expect(planned.stderr).to.equal("");
        expect(planned.code).to.equal(0);
        expect(planned.stdout).not.to.contain(CIPHERTEXT);
        const again = await herd(dir, "plan", "--stack", "prod", "--json", "--against", "HEAD");
        expect(again.stdout).to.equal(planned.stdout);

        const before = stackText(dir);
        fs.writeFileSync(stackPath(dir), before.replace(CIPHERTEXT, OTHER));
        const rotated = JSON.parse((await herd(dir, "plan", "--stack", "prod", "--json")).stdout);
        expect(rotated.summary).to.deep.include({ update: 1 });
        expect(rotated.changes.map((c: { fleet: string }) => c.fleet)).to.deep.equal(["api"]);
        fs.writeFileSync(stackPath(dir), before);

        const promote = await herd(dir, "promote", "--stack", "prod", "api");
        expect(promote.stderr).to.equal("");
        expect(promote.code).to.equal(0);
        // The encrypted value is kept as it was written, byte for byte.
        expect(stackText(dir)).to.contain(`          TOKEN:\n            secure: ${CIPHERTEXT}\n`);
        git(dir, "commit", "--quiet", "-am", "api: promote");
        fs.writeFileSync(stackPath(dir), before);
        git(dir, "commit", "--quiet", "-am", "api: back to one");
        const rollback = await herd(dir, "rollback", "--stack", "prod", "api");
        expect(rollback.stderr).to.equal("");
        expect(rollback.code).to.equal(0);
    });

    it("never appear in an error message, nor does the file's text", async () => {
        const dir = repository();
        const original = stackText(dir);
        const cases: [what: string, text: string, message: string | RegExp][] = [
            [
                "a secret where an object is expected",
                withSecret(original).replace("      health: { path: /ready, port: 8080 }\n", `      health:\n        secure: ${CIPHERTEXT}\n`),
                `herd: Invalid herd config in stack "prod" (Pulumi.prod.yaml), 1 problem:\n  - herd:fleets.api.health = "${secretMarker({ secure: CIPHERTEXT })}": expected an object with keys path, port, command\n`,
            ],
            [
                "herd:fleets encrypted as a whole",
                `config:\n  openstack:region: GRA11\n  herd:fleets:\n    secure: ${CIPHERTEXT}\n`,
                "herd: herd:fleets in Pulumi.prod.yaml is encrypted as a whole, and herd cannot decrypt it to plan the fleets: store it in plain text and encrypt only the secret values, e.g. pulumi config set --secret --path 'herd:fleets.api.release.env.TOKEN'\n",
            ],
            [
                "a YAML error on the line of a plain-text secret",
                original.replace("        env: { LOG_LEVEL: info }\n      rollout:", "        env: { LOG_LEVEL: info, TOKEN: hunter2: oops }\n      rollout:"),
                /^herd: Pulumi\.prod\.yaml is not valid YAML: [^\n]* at line \d+, column \d+\n$/,
            ],
        ];
        for (const [what, text, message] of cases) {
            fs.writeFileSync(stackPath(dir), text);
            for (const command of [["plan", "--stack", "prod"], ["promote", "--stack", "prod", "api", "--force"]]) {
                const result = await herd(dir, ...command);
                expect(result.code, what).to.equal(1);
                expect(result.stderr, what).not.to.contain(CIPHERTEXT).and.not.contain("hunter2");
                if (typeof message === "string") {
                    expect(result.stderr, what).to.equal(message);
                } else {
                    expect(result.stderr, what).to.match(message);
                }
            }
        }
        fs.writeFileSync(stackPath(dir), original);
    });
});

describe("the CLI behaves like a Unix tool", function () {
    this.timeout(120_000);

    it("stops quietly when its reader goes away (herd plan | head): no EPIPE trace, its own exit code", async () => {
        const dir = repository();
        const { child, result } = herdProcess(dir, "plan", "--stack", "prod", "--against", "HEAD");
        // The reader closes before herd writes, as `head` does once it has its lines.
        child.stdout?.destroy();
        const { code, stderr } = await result;
        expect(stderr).to.equal("");
        expect(code).to.equal(0);
    });

    it("names the Node.js it needs, in one line, on an older one", function () {
        const old = spawnSync("/usr/bin/node", ["--version"], { encoding: "utf8" });
        if (old.status !== 0 || isAtLeast(old.stdout.trim(), MINIMUM_NODE)) {
            this.skip(); // no Node.js older than the minimum on this machine
        }
        const version = old.stdout.trim().replace(/^v/, "");
        const result = spawnSync("/usr/bin/node", ["--import", "tsx", MAIN, "--version"], { cwd: REPO, encoding: "utf8" });
        expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).to.deep.equal({
            status: 1,
            stdout: "",
            stderr: `herd: needs Node.js ${MINIMUM_NODE} or later, and this is Node.js ${version}: install a newer Node.js (https://nodejs.org)\n`,
        });
    });

    it("states the minimum Node.js once: in package.json's engines as in the check", () => {
        const engines = (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;
        expect(engines).to.equal(`>=${MINIMUM_NODE}`);
        expect(nodeTooOld("22.11.0")).to.equal(
            `herd: needs Node.js ${MINIMUM_NODE} or later, and this is Node.js 22.11.0: install a newer Node.js (https://nodejs.org)`,
        );
        for (const version of ["22.12.0", "v22.12.0", "22.23.3", "23.0.0", "24.1.0"]) {
            expect(nodeTooOld(version), version).to.equal(undefined);
        }
        for (const version of ["20.19.0", "v21.7.3", "22.0.0", "22.11.9", "18.20.4"]) {
            expect(isAtLeast(version, MINIMUM_NODE), version).to.equal(false);
        }
    });

    it("prints an unexpected error in one line, its stack trace only with HERD_DEBUG=1", async () => {
        const error = new TypeError("Cannot read properties of undefined (reading 'x')\n    more detail");
        expect(unexpected(error, {})).to.equal("herd: unexpected error: Cannot read properties of undefined (reading 'x') (set HERD_DEBUG=1 for details)\n");
        expect(unexpected(error, { HERD_DEBUG: "1" })).to.equal(`herd: ${error.stack}\n`);

        // A stack file that cannot be read (a folder in its place): one line, the file and why.
        const dir = repository();
        fs.rmSync(stackPath(dir));
        fs.mkdirSync(stackPath(dir));
        const { result } = herdProcess(dir, "plan", "--stack", "prod");
        expect(await result).to.deep.equal({
            code: 1,
            stdout: "",
            stderr: `herd: cannot read ${NAME}: EISDIR: illegal operation on a directory, read\n`,
        });
    });
});
