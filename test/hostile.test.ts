import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { secretMarker as cliSecretMarker } from "../components/cli/secrets";
import { ConfigError, formatValue, markSecrets, ResolveOptions } from "../components/config";
import { MAX_FLEET_SIZE, parseFleets } from "../components/fleet";
import { resolveFleets, resolveStack, StackInput } from "../components/fleet";
import { containerInputs, defaultHealthCommand, resolveDockerWorkload } from "../components/docker";
import {
    buildConfigMapData,
    buildDeploymentSpec,
    buildSecretData,
    configMapName,
    deploymentName,
    disruptionBudgetName,
    resolveWorkload,
    secretName,
} from "../components/kubernetes";
import { probeCloudConfig, ruleFile, defaultAlerts } from "../components/monitoring";
import { probeObjectName } from "../components/kubernetes/probe";
import { plaintextMarker, secretMarker } from "../components/release";
import { isSecret, ProgramError, ProgramRun, runProgram } from "../components/testing";
import { PROGRAM, PROJECT_DIR, rejectionOf } from "./helpers/project";

/** Strings that mean something to a shell, a systemd unit, YAML or a URL. */
const HOSTILE = ["'", '"', "$(id)", "`id`", "\n", ";reboot", "a b", "\\", "%n", "\u0000"];

const openstack = { backend: "openstack", size: 2, release: { image: "debian-12", flavor: "b3-8", network: "ext-net" } };
const docker = { backend: "docker", size: 2, release: { image: "docker.io/library/busybox:1.37", port: 80 } };
const kubernetes = { backend: "kubernetes", size: 2, release: { image: "registry.example.org/api@sha256:" + "a".repeat(64), port: 8080 } };

/** The lines of the ConfigError a call throws, without the heading. */
function problemLines(call: () => unknown): string[] {
    try {
        call();
    } catch (err) {
        expect(err, String(err)).to.be.instanceOf(ConfigError);
        return (err as Error).message.split("\n").slice(1);
    }
    throw new Error("expected a ConfigError, but the call succeeded");
}

const fleetLines = (fleets: unknown) => problemLines(() => parseFleets(fleets, "prod"));

const projects: string[] = [];
after(() => projects.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** A throwaway project directory with the given files, removed after the tests. */
function project(files: Record<string, string> = {}): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-hostile-"));
    projects.push(dir);
    for (const [file, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), content);
    }
    return dir;
}

const SCRIPT = "#!/bin/sh\necho 0\n";
const CLOUD_CONFIG = "#cloud-config\npackages: [nginx]\n";

describe("hostile input: secrets stay secret", function () {
    this.timeout(120_000);
    const TOKEN_CT = "v1:dG9rZW4tc2FsdA==:dG9rZW4tY2lwaGVydGV4dA==";
    const KEY_CT = "v1:a2V5LXNhbHQ=:a2V5LWNpcGhlcnRleHQ=";
    const TOKEN = "s3cr3t-t0ken-9f2a";
    const KEY = "-----BEGIN PRIVATE KEY-----\nMIIEv\n";
    const release = (image: string) => ({
        image,
        port: 8080,
        env: { LOG_LEVEL: "info", TOKEN: { secure: TOKEN_CT } },
        files: { "/etc/app/key.pem": { secure: KEY_CT }, "/etc/app/app.conf": "level: info\n" },
    });
    const config = {
        "herd:fleets": {
            web: { ...docker, release: release("docker.io/library/nginx:1.27-alpine"), health: { path: "/healthz", port: 8080 } },
            api: { ...kubernetes, release: release(kubernetes.release.image) },
        },
    };
    const run = (secrets?: Record<string, string>, stack = "hostile") =>
        runProgram({ program: PROGRAM, projectDir: PROJECT_DIR, stack, config, ...(secrets ? { secrets } : {}) });

    it("keep their secret marking from the stack file to a Docker container's env and files", async () => {
        const result = await run({ [TOKEN_CT]: TOKEN, [KEY_CT]: KEY });
        for (const container of result.ofType("docker:index/container:Container")) {
            expect(isSecret(container.inputs.envs), container.name).to.equal(true);
            expect(isSecret(container.inputs.uploads), container.name).to.equal(true);
            expect((container.inputs.envs as { value: string[] }).value).to.deep.equal(["LOG_LEVEL=info", `TOKEN=${TOKEN}`]);
            expect((container.inputs.uploads as { value: { file: string; content: string }[] }).value.map((u) => [u.file, u.content])).to.deep.equal([
                ["/etc/app/app.conf", "level: info\n"],
                ["/etc/app/key.pem", KEY],
            ]);
        }
        expect(result.plainText(TOKEN)).to.deep.equal([]);
        expect(result.plainText("BEGIN PRIVATE KEY")).to.deep.equal([]);
    });

    it("go into a Kubernetes Secret, not a ConfigMap, and the pods read them from there", async () => {
        const result = await run({ [TOKEN_CT]: TOKEN, [KEY_CT]: KEY });
        const secrets = result.ofType("kubernetes:core/v1:Secret");
        expect(secrets.map((s) => s.name).sort()).to.deep.equal([secretName("api", "stable", "env"), secretName("api", "stable", "files")]);
        for (const secret of secrets) {
            expect(isSecret(secret.inputs.stringData), secret.name).to.equal(true);
            expect(secret.inputs).to.deep.include({ immutable: true, type: "Opaque" });
            expect(secret.options.replaceOnChanges).to.deep.equal(["stringData"]);
        }
        expect((result.named("api-stable-secret-env").inputs.stringData as { value: unknown }).value).to.deep.equal({ TOKEN });
        expect(result.named("api-stable-env").inputs.data).to.deep.equal({ LOG_LEVEL: "info" });
        expect(JSON.stringify(result.ofType("kubernetes:core/v1:ConfigMap"))).to.not.contain(TOKEN).and.not.contain("BEGIN");
        const pod = (result.named("api-stable", "kubernetes:apps/v1:Deployment").inputs.spec as { template: { spec: { containers: { envFrom: object[]; volumeMounts: { name: string; mountPath: string }[] }[]; volumes: { name: string }[] } } }).template.spec;
        expect(pod.containers[0].envFrom.map((source) => Object.keys(source)[0])).to.deep.equal(["configMapRef", "secretRef"]);
        expect(pod.containers[0].volumeMounts.map((m) => [m.name, m.mountPath])).to.deep.equal([
            ["tmp", "/tmp"],
            ["files", "/etc/app/app.conf"],
            ["secret-files", "/etc/app/key.pem"],
        ]);
        expect(pod.volumes.map((v) => v.name)).to.deep.equal(["tmp", "files", "secret-files"]);
        expect(result.plainText(TOKEN)).to.deep.equal([]);
        expect(result.plainText("BEGIN PRIVATE KEY")).to.deep.equal([]);
    });

    it("never reach names, labels or generations: those follow the ciphertext, as herd plan sees it", async () => {
        const decrypted = await run({ [TOKEN_CT]: TOKEN, [KEY_CT]: KEY });
        const other = await run({ [TOKEN_CT]: "another-plaintext", [KEY_CT]: KEY });
        const opaque = await run();
        const names = (r: ProgramRun) => r.resources.map((x) => [x.urn, x.options.replacementTrigger, JSON.stringify(r.outputs.fleets)]);
        expect(names(other)).to.deep.equal(names(decrypted));
        expect(names(opaque)).to.deep.equal(names(decrypted));
        // The marker a program computes is the one `herd plan` puts in place of the value.
        expect(secretMarker({ secure: TOKEN_CT })).to.equal(cliSecretMarker({ secure: TOKEN_CT }));
        const opaqueEnv = opaque.named("web-0", "docker:index/container:Container").inputs.envs;
        expect(isSecret(opaqueEnv)).to.equal(true);
        expect((opaqueEnv as { value: string[] }).value).to.deep.equal(["LOG_LEVEL=info", `TOKEN=${secretMarker({ secure: TOKEN_CT })}`]);
        expect(opaque.plainText(TOKEN_CT)).to.deep.equal([]);
        // A new ciphertext is a new release: the members that hold it are replaced.
        const rotated = await runProgram({
            program: PROGRAM,
            projectDir: PROJECT_DIR,
            stack: "hostile",
            config: { "herd:fleets": { ...config["herd:fleets"], web: { ...config["herd:fleets"].web, release: { ...release("docker.io/library/nginx:1.27-alpine"), env: { LOG_LEVEL: "info", TOKEN: { secure: "v1:bmV3:bmV3" } } } } } },
        });
        expect(rotated.named("web-0", "docker:index/container:Container").inputs.name).to.not.equal(decrypted.named("web-0", "docker:index/container:Container").inputs.name);
    });

    it("are deterministic: two evaluations register byte-identical inputs", async () => {
        const first = await run({ [TOKEN_CT]: TOKEN, [KEY_CT]: KEY });
        const second = await run({ [TOKEN_CT]: TOKEN, [KEY_CT]: KEY });
        expect(JSON.stringify(second.resources)).to.equal(JSON.stringify(first.resources));
    });

    it("are refused where herd would show them (names, paths, plain settings), and the message shows the marker only", async () => {
        const at = (fleets: unknown) =>
            problemLines(() => resolveStack({ fleets }, { stack: "prod", projectDir: PROJECT_DIR, stored: { "herd:fleets": fleets } }));
        const marker = secretMarker({ secure: TOKEN_CT });
        const where = "only a container release's env values and file contents can be secret (they reach the members as secrets); herd shows every other value in names, plans and messages";
        expect(at({ web: { ...openstack, release: { ...openstack.release, keyPair: { secure: TOKEN_CT } } } })).to.deep.equal([
            `  - herd:fleets.web.release.keyPair = "${marker}": expected a value in plain text: ${where}`,
        ]);
        expect(at({ web: { ...docker, release: { ...docker.release, image: { secure: TOKEN_CT } } } })).to.deep.equal([
            `  - herd:fleets.web.release.image = "${marker}": expected a value in plain text: ${where}`,
        ]);
        expect(at({ web: { ...docker, release: { ...docker.release, command: ["/app", { secure: TOKEN_CT }] } } })).to.deep.equal([
            `  - herd:fleets.web.release.command[1] = "${marker}": expected a value in plain text: ${where}`,
        ]);
        expect(at({ web: { ...docker, health: { path: { secure: TOKEN_CT }, port: 80 } } })[0]).to.match(
            new RegExp(`^  - herd:fleets\\.web\\.health\\.path = "\\[secret [0-9a-f]{8}\\]": expected an HTTP path`),
        );
        expect(
            problemLines(() =>
                resolveStack({ fleets: { web: docker }, monitoring: { pushgateway: "http://pushgateway:9091", probeImage: { secure: KEY_CT } } }, { stack: "prod", projectDir: PROJECT_DIR }),
            ),
        ).to.deep.equal([
            `  - herd:monitoring.probeImage = "${secretMarker({ secure: KEY_CT })}": expected a value in plain text: herd:monitoring holds no secret: herd shows its values in plans and messages, or reads them as paths`,
        ]);
        // Through the program: the plaintext is nowhere in the error.
        const error = await rejectionOf(
            runProgram({
                program: PROGRAM,
                projectDir: PROJECT_DIR,
                stack: "hostile",
                config: { "herd:fleets": { web: { ...docker, release: { ...docker.release, image: { secure: TOKEN_CT } }, size: -1 } } },
                secrets: { [TOKEN_CT]: TOKEN },
            }),
        );
        expect(error).to.be.instanceOf(ProgramError);
        expect(error.message).to.not.contain(TOKEN).and.not.contain(TOKEN_CT);
        expect(error.message).to.contain("herd:fleets.web.size = -1: expected a whole number ≥ 0");
    });

    it("in a herd:fleets secret as a whole (encrypted whole, or from ESC): every env value and file content is a secret", () => {
        const fleets = {
            web: { ...docker, release: { ...docker.release, env: { TOKEN, LOG_LEVEL: "info" }, files: { "/etc/app/key.pem": KEY } } },
            db: openstack,
        };
        const tokenMarker = plaintextMarker("prod", TOKEN);
        const expectMarked = (marked: ReturnType<typeof markSecrets>) => {
            expect(marked.problems).to.deep.equal([]);
            expect(marked.refused).to.equal(false);
            expect(JSON.stringify(marked.value)).to.not.contain(TOKEN).and.not.contain("PRIVATE");
            const web = (marked.value as typeof fleets).web.release;
            expect(web.env).to.deep.equal({ TOKEN: tokenMarker, LOG_LEVEL: plaintextMarker("prod", "info") });
            expect(web.files).to.deep.equal({ "/etc/app/key.pem": plaintextMarker("prod", KEY) });
            expect(web.image).to.equal(docker.release.image);
            expect((marked.value as typeof fleets).db).to.deep.equal(openstack);
            expect(marked.secrets.get(tokenMarker)).to.equal(TOKEN);
            expect(marked.secrets.get(plaintextMarker("prod", KEY))).to.equal(KEY);
        };
        // Encrypted whole in the stack file; the program reads the plaintext.
        expectMarked(markSecrets("herd:fleets", fleets, { secure: TOKEN_CT }, true, "prod"));
        // Secret by Pulumi's word, with no secure: value in the stack file (an ESC environment fills it).
        expectMarked(markSecrets("herd:fleets", fleets, undefined, true, "prod"));
        // The marker follows the value and the stack, not the ciphertext: encrypting again keeps the release.
        expect(markSecrets("herd:fleets", fleets, { secure: KEY_CT }, true, "prod").value).to.deep.equal(markSecrets("herd:fleets", fleets, { secure: TOKEN_CT }, true, "prod").value);
        expect(plaintextMarker("staging", TOKEN)).to.not.equal(tokenMarker);
        // Through resolveStack: it resolves, and the plaintext travels beside the release.
        const stack = resolveStack({ fleets }, { stack: "prod", projectDir: PROJECT_DIR, secretKeys: ["herd:fleets"] });
        const web = stack.fleets.find((fleet) => fleet.name === "web");
        expect(web?.backend === "docker" && web.args.release.env).to.deep.equal({ TOKEN: tokenMarker, LOG_LEVEL: plaintextMarker("prod", "info") });
        expect(web?.backend === "docker" && web.args.secrets?.get(tokenMarker)).to.equal(TOKEN);
    });

    it("in a herd:fleets secret as a whole: an env on a backend whose release has none is refused by the schema, showing the marker only", () => {
        const fleets = { db: { ...openstack, release: { ...openstack.release, env: { TOKEN } } } };
        const lines = problemLines(() => resolveStack({ fleets }, { stack: "prod", projectDir: PROJECT_DIR, secretKeys: ["herd:fleets"] }));
        expect(lines).to.have.length(1);
        expect(lines[0]).to.match(/^ {2}- herd:fleets\.db\.release\.env = .*: unknown key; allowed keys: image, flavor, network, networks, keyPair, securityGroups, userData$/);
        expect(lines[0]).to.contain(plaintextMarker("prod", TOKEN)).and.not.contain(TOKEN);
    });

    it("are refused where no one can read them: a whole key herd cannot decrypt, and another key secret as a whole", () => {
        const input: StackInput = { fleets: { web: { ...docker, release: { ...docker.release, env: { TOKEN } } } } };
        // The test kit and herd plan read the ciphertext itself.
        const whole = problemLines(() => resolveStack({ fleets: { secure: TOKEN_CT } }, { stack: "prod", projectDir: PROJECT_DIR, secretKeys: ["herd:fleets"] }));
        expect(whole).to.deep.equal([
            "  - herd:fleets = \"[secret]\": expected plain text, with single values encrypted (pulumi config set --secret --path 'herd:fleets.<…>'): the whole key is encrypted, and only pulumi preview and pulumi up can read it",
        ]);
        const monitoring = problemLines(() =>
            resolveStack({ ...input, monitoring: { pushgateway: "http://pushgateway:9091" } }, { stack: "prod", projectDir: PROJECT_DIR, secretKeys: ["herd:monitoring"] }),
        );
        expect(monitoring).to.deep.equal([
            "  - herd:monitoring = \"[secret]\": expected plain text: herd:monitoring holds no secret (herd shows its values in plans and messages, or reads them as paths), and Pulumi says this key is secret as a whole",
        ]);
        expect([...whole, ...monitoring].join("\n")).to.not.contain(TOKEN).and.not.contain(TOKEN_CT);
        // The stack file says where: only those values are secret, behind their ciphertext's marker.
        const marked = markSecrets("herd:fleets", input.fleets, { web: { release: { env: { TOKEN: { secure: TOKEN_CT } } } } }, true);
        expect(marked.problems).to.deep.equal([]);
        expect(JSON.stringify(marked.value)).to.not.contain(TOKEN);
        expect(JSON.stringify(marked.value)).to.contain(secretMarker({ secure: TOKEN_CT }));
        expect([...marked.secrets]).to.deep.equal([[secretMarker({ secure: TOKEN_CT }), TOKEN]]);
    });

    it("in a herd:fleets secret as a whole reach the members as secrets, and plain sight nowhere, through the program", async () => {
        const fleets = {
            web: { ...docker, release: { ...docker.release, env: { TOKEN, LOG_LEVEL: "info" } } },
            api: { ...kubernetes, release: { ...kubernetes.release, env: { TOKEN }, files: { "/etc/app/key.pem": KEY } } },
        };
        const check = (result: ProgramRun) => {
            for (const container of result.ofType("docker:index/container:Container")) {
                expect(isSecret(container.inputs.envs), container.name).to.equal(true);
                expect((container.inputs.envs as { value: string[] }).value).to.deep.equal([`LOG_LEVEL=info`, `TOKEN=${TOKEN}`]);
            }
            expect(result.ofType("kubernetes:core/v1:Secret").map((s) => s.name).sort()).to.deep.equal([secretName("api", "stable", "env"), secretName("api", "stable", "files")]);
            expect(JSON.stringify(result.ofType("kubernetes:core/v1:ConfigMap"))).to.not.contain(TOKEN).and.not.contain("BEGIN");
            expect(result.plainText(TOKEN)).to.deep.equal([]);
            expect(result.plainText("BEGIN PRIVATE KEY")).to.deep.equal([]);
        };
        // Encrypted whole: the stack file holds one ciphertext; pulumi up gives the program the JSON.
        const encrypted = await runProgram({
            program: PROGRAM,
            projectDir: PROJECT_DIR,
            stack: "hostile",
            config: { "herd:fleets": { secure: TOKEN_CT } },
            secrets: { [TOKEN_CT]: JSON.stringify(fleets) },
        });
        check(encrypted);
        // From an ESC environment: plain in the program's config, secret by Pulumi's word.
        const esc = await runProgram({ program: PROGRAM, projectDir: PROJECT_DIR, stack: "hostile", config: { "herd:fleets": fleets }, secretKeys: ["herd:fleets"] });
        check(esc);
        expect(esc.resources.map((r) => r.urn)).to.deep.equal(encrypted.resources.map((r) => r.urn));
    });

    it("never echo a file's content or a long value in a message", () => {
        expect(formatValue("line one\nline two\n")).to.equal("(a text of 18 characters on 3 lines)");
        expect(formatValue("x".repeat(81))).to.equal("(a text of 81 characters)");
        expect(formatValue({ a: "x".repeat(100) })).to.equal('(a map of 1 key: "a")');
        expect(formatValue(["web", "api"])).to.equal('["web","api"]');
        // A wrong file path names the path, not the content under it.
        expect(fleetLines({ web: { ...docker, release: { ...docker.release, files: { "etc/app.conf": "password=hunter2" } } } })).to.deep.equal([
            '  - herd:fleets.web.release.files.etc/app.conf = "etc/app.conf": expected an absolute file path',
        ]);
        const dir = project({ "cloud-init/web.yaml": "password: hunter2\n", "cloud-init/bad.yaml": "#cloud-config\npassword: [hunter2\n" });
        const lines = problemLines(() =>
            resolveFleets(
                {
                    web: { ...openstack, release: { ...openstack.release, userData: "cloud-init/web.yaml" } },
                    api: { ...openstack, release: { ...openstack.release, userData: "cloud-init/bad.yaml" } },
                },
                { stack: "prod", projectDir: dir },
            ),
        );
        expect(lines.join("\n")).to.not.contain("hunter2");
        expect(lines).to.have.length(2);
    });
});

describe("hostile input: paths stay inside the project", () => {
    const resolve = (fleets: unknown, dir: string, extra: Partial<ResolveOptions> = {}) => problemLines(() => resolveFleets(fleets, { stack: "prod", projectDir: dir, ...extra }));
    const withUserData = (userData: string) => ({ web: { ...openstack, release: { ...openstack.release, userData } } });
    const withScript = (script: string) => ({ web: { ...openstack, probes: { x: { script, every: "1m" } } } });

    const lexical: [string, string][] = [
        ["an absolute path", "/etc/passwd"],
        ["a .. escape", "../outside.yaml"],
        ["a .. escape in the middle", "cloud-init/../../outside.yaml"],
        ["a Windows drive", "C:\\Windows\\win.ini"],
        ["a newline", "cloud-init/web.yaml\n"],
        ["a NUL", "cloud-init/web.yaml\u0000.png"],
    ];
    for (const [title, value] of lexical) {
        it(`refuses ${title} in userData and probe script, with the key path`, () => {
            const userData = fleetLines(withUserData(value));
            expect(userData).to.have.length(1);
            expect(userData[0]).to.match(/^  - herd:fleets\.web\.release\.userData = .*: expected a #cloud-config file: a path relative to the project directory, without '\.\.'$/);
            const script = fleetLines(withScript(value));
            expect(script).to.have.length(1);
            expect(script[0]).to.match(/^  - herd:fleets\.web\.probes\.x\.script = .*: expected the probe script \(shell or Python, with a shebang\): a path relative to the project directory, without '\.\.'$/);
        });
    }

    it("refuses a symlink that leads outside, a directory, a FIFO and a device, before opening them", () => {
        const outside = project({ "secret.yaml": "#cloud-config\n" });
        const dir = project({ "cloud-init/ok.yaml": CLOUD_CONFIG, "probes/ok.sh": SCRIPT });
        fs.symlinkSync(path.join(outside, "secret.yaml"), path.join(dir, "cloud-init", "escape.yaml"));
        fs.symlinkSync("/dev/zero", path.join(dir, "probes", "zero.sh"));
        fs.symlinkSync("ok.yaml", path.join(dir, "cloud-init", "inside.yaml"));
        fs.mkdirSync(path.join(dir, "cloud-init", "dir.yaml"));
        execFileSync("mkfifo", [path.join(dir, "probes", "fifo.sh")]);
        expect(resolve(withUserData("cloud-init/escape.yaml"), dir)).to.deep.equal([
            '  - herd:fleets.web.release.userData = "cloud-init/escape.yaml": expected a #cloud-config file relative to the project directory (a symlink leads it outside the project directory)',
        ]);
        expect(resolve(withUserData("cloud-init/dir.yaml"), dir)).to.deep.equal([
            '  - herd:fleets.web.release.userData = "cloud-init/dir.yaml": expected a #cloud-config file relative to the project directory (it is a directory, not a regular file)',
        ]);
        expect(resolve(withScript("probes/fifo.sh"), dir)).to.deep.equal([
            '  - herd:fleets.web.probes.x.script = "probes/fifo.sh": expected a script relative to the project directory (it is a FIFO, not a regular file)',
        ]);
        expect(resolve(withScript("probes/zero.sh"), dir)).to.deep.equal([
            '  - herd:fleets.web.probes.x.script = "probes/zero.sh": expected a script relative to the project directory (a symlink leads it outside the project directory)',
        ]);
        // A symlink inside the project is followed.
        expect(() => resolveFleets(withUserData("cloud-init/inside.yaml"), { stack: "prod", projectDir: dir })).to.not.throw();
    });

    it("bounds sizes: a probe script over 64 KiB, and user data over what Nova takes once herd's additions are in", () => {
        const big = "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: " + "x".repeat(48_000) + "\n";
        const dir = project({
            "probes/big.sh": SCRIPT + "#" + "x".repeat(64 * 1024) + "\n",
            "probes/ok.sh": SCRIPT + "#" + "x".repeat(2000) + "\n",
            "cloud-init/big.yaml": big,
            "cloud-init/huge.yaml": "#cloud-config\n#" + "x".repeat(70_000) + "\n",
        });
        expect(resolve(withScript("probes/big.sh"), dir)).to.deep.equal([
            `  - herd:fleets.web.probes.x.script = "probes/big.sh": expected a script relative to the project directory (at most 65536 bytes; this one has ${SCRIPT.length + 64 * 1024 + 2})`,
        ]);
        expect(resolve(withUserData("cloud-init/huge.yaml"), dir)).to.deep.equal([
            `  - herd:fleets.web.release.userData = "cloud-init/huge.yaml": expected a #cloud-config file relative to the project directory (at most 65536 bytes; this one has ${70_000 + 16})`,
        ]);
        // 48 kB alone fit; with a probe (its script and units go into the user data too) they do not.
        expect(() => resolveFleets(withUserData("cloud-init/big.yaml"), { stack: "prod", projectDir: dir })).to.not.throw();
        const lines = resolve({ web: { ...withUserData("cloud-init/big.yaml").web, probes: { x: { script: "probes/ok.sh", every: "1m" } } } }, dir);
        expect(lines).to.have.length(1);
        expect(lines[0]).to.match(
            /^  - herd:fleets\.web\.release\.userData = "cloud-init\/big\.yaml": expected user data that Nova takes: at most 65535 bytes once base64-encoded; with herd's additions \(node_exporter, 1 probe\(s\), the release identity\) it is \d+ bytes, \d+ encoded$/,
        );
    });

    const mountPaths: [string, string][] = [
        ["etc/app.conf", "an absolute file path"],
        ["/etc//app.conf", "a normalized absolute file path: no '//', '/./', '..' or trailing '/'"],
        ["/etc/./app.conf", "a normalized absolute file path: no '//', '/./', '..' or trailing '/'"],
        ["/etc/app/", "a normalized absolute file path: no '//', '/./', '..' or trailing '/'"],
        ["/etc/../root/.ssh/authorized_keys", "a normalized absolute file path: no '//', '/./', '..' or trailing '/'"],
        ["/", "a normalized absolute file path: no '//', '/./', '..' or trailing '/'"],
        ["/etc/app.conf\n", "an absolute file path without control characters (newline, NUL, tab)"],
        ["/etc/app\u0000.conf", "an absolute file path without control characters (newline, NUL, tab)"],
    ];
    for (const [file, allowed] of mountPaths) {
        it(`refuses the container file path ${JSON.stringify(file)}`, () => {
            for (const fleet of [docker, kubernetes]) {
                const lines = fleetLines({ web: { ...fleet, release: { ...fleet.release, files: { [file]: "content" } } } });
                expect(lines).to.have.length(1);
                expect(lines[0]).to.contain(`: expected ${allowed}`);
                expect(lines[0]).to.not.contain("\n");
            }
            expect(() => resolveDockerWorkload("web", { size: 1, release: { image: "x", files: { [file]: "content" } } })).to.throw(`release.files has ${JSON.stringify(file)}: expected ${allowed}`);
        });
    }

    it("keeps herd:kubernetes paths inside the project", () => {
        const dir = project({ "kube/config": "apiVersion: v1\n" });
        const at = (kubernetesSettings: unknown) => problemLines(() => resolveStack({ fleets: { api: kubernetes }, kubernetes: kubernetesSettings }, { stack: "prod", projectDir: dir }));
        expect(at({ kubeconfig: "/root/.kube/config" })).to.deep.equal([
            `  - herd:kubernetes.kubeconfig = "/root/.kube/config": expected a kubeconfig file: a path relative to the project directory, without '..'`,
        ]);
        expect(at({ renderYamlToDirectory: "../manifests" })).to.deep.equal([
            `  - herd:kubernetes.renderYamlToDirectory = "../manifests": expected a directory to write manifests to instead of applying them to a cluster: a path relative to the project directory, without '..'`,
        ]);
        fs.symlinkSync(os.tmpdir(), path.join(dir, "out"));
        expect(at({ renderYamlToDirectory: "out/manifests" })).to.deep.equal([
            `  - herd:kubernetes.renderYamlToDirectory = "out/manifests": expected a directory relative to the project directory (a symlink leads it outside the project directory)`,
        ]);
        expect(() => resolveStack({ fleets: { api: kubernetes }, kubernetes: { kubeconfig: "kube/config", renderYamlToDirectory: "rendered/yaml" } }, { stack: "prod", projectDir: dir })).to.not.throw();
    });
});

describe("hostile input: nothing generated can be injected into", () => {
    for (const bad of HOSTILE) {
        const shown = JSON.stringify(bad);
        it(`refuses ${shown} in every value that reaches a shell, a unit, a URL or an HTTP check`, () => {
            const cases: [string, unknown, RegExp][] = [
                ["health path (docker)", { web: { ...docker, health: { path: `/healthz${bad}`, port: 80 } } }, /^  - herd:fleets\.web\.health\.path = .*: expected an HTTP path such as \/healthz/],
                ["health path (kubernetes)", { web: { ...kubernetes, health: { path: `/ready${bad}`, port: 80 } } }, /^  - herd:fleets\.web\.health\.path = .*: expected an HTTP path/],
                ["health path (openstack)", { web: { ...openstack, health: { path: `/${bad}`, port: 80 } } }, /^  - herd:fleets\.web\.health\.path = .*: expected an HTTP path/],
                ["probe name", { web: { ...openstack, probes: { [`x${bad}`]: { script: "probes/stuck_jobs.sh", every: "1m" } } } }, /^  - herd:fleets\.web\.probes.*: expected a probe name: lowercase letters, digits and '_', starting with a letter$/],
                ["probe metric", { web: { ...openstack, probes: { x: { script: "probes/stuck_jobs.sh", every: "1m", metric: `m${bad}` } } } }, /^  - herd:fleets\.web\.probes\.x\.metric = .*: expected a Prometheus metric name$/],
                ["probe schedule", { web: { ...openstack, probes: { x: { script: "probes/stuck_jobs.sh", every: `1m${bad}` } } } }, /^  - herd:fleets\.web\.probes\.x\.every = .*: expected how often it runs: a duration such as 30s, 5m or 1h$/],
                ["probe severity", { web: { ...openstack, probes: { x: { script: "probes/stuck_jobs.sh", every: "1m", alert: { severity: `warning${bad}` } } } } }, /^  - herd:fleets\.web\.probes\.x\.alert\.severity = .*: expected a severity label/],
                ["env name", { web: { ...docker, release: { ...docker.release, env: { [`A${bad}`]: "v" } } } }, /^  - herd:fleets\.web\.release\.env.* = .*: expected an environment variable name$/],
                ["fleet name", { [`web${bad}`]: docker }, /^  - herd:fleets.*: expected a fleet name: lowercase letters, digits and '-', starting with a letter, at most 30 characters$/],
                ["namespace", { web: { ...kubernetes, namespace: `api${bad}` } }, /^  - herd:fleets\.web\.namespace = .*: expected a Kubernetes namespace name$/],
                ["gate Prometheus URL", { web: { ...docker, gate: { prometheus: `http://prometheus:9090/${bad}`, query: "up" } } }, /^  - herd:fleets\.web\.gate\.prometheus = .*: expected the base URL of a Prometheus server/],
            ];
            for (const [what, fleets, line] of cases) {
                const lines = fleetLines(fleets);
                expect(lines, what).to.have.length(1);
                expect(lines[0], what).to.match(line);
            }
            const pushgateway = problemLines(() =>
                resolveStack({ fleets: { web: docker }, monitoring: { pushgateway: `http://pushgateway:9091${bad}` } }, { stack: "prod", projectDir: PROJECT_DIR }),
            );
            expect(pushgateway).to.have.length(1);
            expect(pushgateway[0]).to.match(/^  - herd:monitoring\.pushgateway = .*: expected the base URL of a Prometheus Pushgateway/);
        });
    }

    it("refuses PromQL that does not parse, in probe alerts and gates", () => {
        const expr = (alertExpr: string) => fleetLines({ web: { ...openstack, probes: { x: { script: "probes/stuck_jobs.sh", every: "1m", alert: { expr: alertExpr } } } } });
        expect(expr("sum(x")).to.deep.equal(['  - herd:fleets.web.probes.x.alert.expr = "sum(x": expected a PromQL expression; this one has a syntax error at character 6 (near "sum(x")']);
        expect(expr("x $(id)")[0]).to.contain("expected a PromQL expression; this one has a syntax error at character 3");
        expect(expr("x; reboot")[0]).to.contain("expected a PromQL expression; this one has a syntax error");
        expect(expr("no_such_function(x)")[0]).to.contain("expected a PromQL expression; this one has a syntax error");
        expect(expr("rate(x)")).to.deep.equal(['  - herd:fleets.web.probes.x.alert.expr = "rate(x)": expected a PromQL expression; this one has rate() needs a range, such as rate(metric[5m])']);
        expect(expr(" ")[0]).to.contain("this one has an empty expression");
        expect(() => parseFleets({ web: { ...openstack, probes: { x: { script: "probes/stuck_jobs.sh", every: "1m", alert: { expr: "sum by (herd_fleet) (rate(herd_probe_x[5m])) > 0" } } } } }, "prod")).to.not.throw();
        const gate = (query: string) => fleetLines({ web: { ...docker, gate: { prometheus: "http://prometheus:9090", query } } });
        expect(gate('up{herd_generation="$generation"} ==')[0]).to.match(/^  - herd:fleets\.web\.gate\.query = .*: expected PromQL that returns .*; this one has a syntax error/);
        expect(() => parseFleets({ web: { ...docker, gate: { prometheus: "http://prometheus:9090", query: 'sum(up{herd_generation="$generation",herd_fleet="$fleet"}) > 0' } } }, "prod")).to.not.throw();
    });

    it("keeps probe arguments out of the Docker probe's shell text: they follow it as data", async () => {
        const run = await runProgram({
            program: PROGRAM,
            projectDir: PROJECT_DIR,
            stack: "hostile",
            config: { "herd:fleets": { web: { ...docker, probes: { stuck_jobs: { script: "probes/stuck_jobs.sh", every: "30s" } } } }, "herd:monitoring": { pushgateway: "http://pushgateway.monitoring:9091" } },
        });
        const command = run.named("web-probe-stuck_jobs", "docker:index/container:Container").inputs.command as string[];
        expect(command.slice(0, 4)).to.deep.equal(["sh", "-c", 'while true; do "$@" || true; sleep 30; done', "sh"]);
        expect(command.slice(4)).to.deep.equal(["/herd/probes/push-probe", "stuck_jobs", "herd_probe_stuck_jobs", "http://pushgateway.monitoring:9091", "hostile", "web"]);
    });

    it("refuses hostile probes and URLs given in code, before a unit or wrapper is written", () => {
        const probe = { name: "oom_kills", script: SCRIPT, every: "5m" };
        expect(() => probeCloudConfig([{ ...probe, name: "x\nExecStartPre=/bin/reboot" }], "/var/lib/prometheus/node-exporter")).to.throw(
            'probe "x\\nExecStartPre=/bin/reboot": name: expected lowercase letters, digits and \'_\', starting with a letter, at most 40 characters',
        );
        expect(() => probeCloudConfig([{ ...probe, metric: "m $(reboot)" }], "/d")).to.throw('probe "oom_kills": metric = "m $(reboot)": expected a Prometheus metric name');
        expect(() => probeCloudConfig([{ ...probe, every: "0s" }], "/d")).to.throw('probe "oom_kills": every = "0s": expected a duration from 1s to 24h');
        expect(() => probeCloudConfig([{ ...probe, script: "#!/bin/sh\n" + "#".repeat(70_000) }], "/d")).to.throw('probe "oom_kills": script: expected at most 65536 bytes');
        expect(() => resolveDockerWorkload("web", { size: 1, release: { image: "x", port: 80 }, health: { path: "/h'; reboot; '", port: 80 } })).to.throw(
            `health.path = "/h'; reboot; '": expected an HTTP path such as /healthz`,
        );
        expect(() => resolveDockerWorkload("web", { size: 1, release: { image: "x", port: 80 }, hostIp: "127.0.0.1; reboot" })).to.throw('hostIp = "127.0.0.1; reboot": expected an IP address');
    });

    it("passes env values and file contents as data: a shell never reads them", () => {
        const value = "$(reboot) `reboot`; 'quoted' \"double\"\nnext line";
        const w = resolveDockerWorkload("web", { size: 1, release: { image: "x", env: { V: value }, files: { "/etc/v": value } }, health: { path: "/healthz", port: 80 } });
        const inputs = containerInputs(w, w.members[0], { image: "i", network: "n" });
        expect(inputs.envs).to.deep.equal([`V=${value}`]);
        expect(inputs.uploads?.[0].content).to.equal(value);
        // The only shell herd writes for a Docker member is its health check, from a checked path, quoted.
        expect(inputs.healthcheck?.tests).to.deep.equal(defaultHealthCommand({ path: "/healthz", port: 80 }));
        const k = resolveWorkload("web", { size: 1, release: { image: "x", env: { V: value } } });
        expect(buildConfigMapData(k.roles[0].release)).to.deep.equal({ env: { V: value } });
    });

    it("writes alert annotations Prometheus reads as text: a hostile summary still passes promtool check rules", function () {
        this.timeout(30_000);
        const summary = "it's $(reboot) `x`; \"quoted\" \\ back";
        const dir = project({ "probes/x.sh": SCRIPT });
        const [fleet] = resolveFleets({ web: { ...openstack, probes: { x: { script: "probes/x.sh", every: "1m", alert: { summary } } } } }, { stack: "prod", projectDir: dir });
        const file = path.join(dir, "rules.yaml");
        fs.writeFileSync(file, ruleFile([defaultAlerts(fleet.alerts)]));
        const result = spawnSync("promtool", ["check", "rules", file], { encoding: "utf8" });
        expect(result.status, `${result.stdout}${result.stderr}`).to.equal(0);
        expect(fs.readFileSync(file, "utf8")).to.contain("it's $(reboot)");
    });
});

describe("hostile input: everything is checked before the first resource exists", () => {
    it("refuses `every: 0s` (and more than a day) on every backend alike", () => {
        for (const fleet of [openstack, kubernetes, docker]) {
            for (const every of ["0s", "0m", "25h", "99999999999h"]) {
                const lines = fleetLines({ web: { ...fleet, probes: { x: { script: "probes/stuck_jobs.sh", every } } } });
                expect(lines, `${fleet.backend} ${every}`).to.have.length(1);
                expect(lines[0]).to.match(/^  - herd:fleets\.web\.probes\.x\.every = ".*": expected how often it runs: a duration (from 1s to 24h, )?such as 30s, 5m or 1h$/);
            }
        }
    });

    it("parses CIDRs: host bits, IPv6, leading zeros, bad prefixes and missing prefixes are refused", () => {
        const cidrs: [string, string][] = [
            ["10.0.0.1/8", "host bits are set: the range is 10.0.0.0/8"],
            ["::/0", "an IPv6 range: the fleet's security group rules are IPv4"],
            ["010.0.0.0/8", '"010.0.0.0" is not an IPv4 address'],
            ["10.0.0.0/33", "the prefix after '/' must be a whole number from 0 to 32"],
            ["10.0.0.0/08", "the prefix after '/' must be a whole number from 0 to 32"],
            ["10.0.0.0", "the prefix after '/' must be a whole number from 0 to 32"],
            ["256.0.0.0/8", '"256.0.0.0" is not an IPv4 address'],
            ["10.0.0.0/8; reboot", "the prefix after '/' must be a whole number from 0 to 32"],
        ];
        for (const [cidr, reason] of cidrs) {
            expect(fleetLines({ web: { ...openstack, ingress: [{ port: 22, cidr }] } })).to.deep.equal([
                `  - herd:fleets.web.ingress[0].cidr = ${JSON.stringify(cidr)}: expected an IPv4 CIDR such as 10.0.0.0/8; this one: ${reason}`,
            ]);
        }
        expect(() => parseFleets({ web: { ...openstack, ingress: [{ port: 22, cidr: "0.0.0.0/0" }, { port: 22, cidr: "192.168.0.0/16" }] } }, "prod")).to.not.throw();
    });

    it("refuses duplicate ingress rules and ports out of range", () => {
        expect(fleetLines({ web: { ...openstack, ingress: [{ port: 22, cidr: "10.0.0.0/8" }, { port: 80, cidr: "10.0.0.0/8" }, { port: 22, protocol: "tcp", cidr: "10.0.0.0/8" }] } })).to.deep.equal([
            '  - herd:fleets.web.ingress[2] = {"port":22,"protocol":"tcp","cidr":"10.0.0.0/8"}: expected a rule that ingress[0] does not give already (tcp port 22 from 10.0.0.0/8)',
        ]);
        expect(() => parseFleets({ web: { ...openstack, ingress: [{ port: 22, cidr: "10.0.0.0/8" }, { port: 22, protocol: "udp", cidr: "10.0.0.0/8" }] } }, "prod")).to.not.throw();
        for (const port of [0, 65536, -1, 80.5, "80"]) {
            expect(fleetLines({ web: { ...docker, hostPort: port } })[0]).to.equal(`  - herd:fleets.web.hostPort = ${JSON.stringify(port)}: expected a port, 1–65535`);
        }
    });

    it("refuses Docker fleets whose host ports overlap (hostPort … hostPort + size - 1)", () => {
        expect(fleetLines({ web: { ...docker, size: 3, hostPort: 8080 }, api: { ...docker, size: 2, hostPort: 8082 }, db: { ...docker, size: 2, hostPort: 8083 } })).to.deep.equal([
            "  - herd:fleets.api.hostPort = 8082: expected host ports no other fleet publishes: its 2 slots would publish 8082–8083, and fleet web publishes 8080–8082",
            "  - herd:fleets.db.hostPort = 8083: expected host ports no other fleet publishes: its 2 slots would publish 8083–8084, and fleet api publishes 8082–8083",
        ]);
        expect(() => parseFleets({ web: { ...docker, size: 3, hostPort: 8080 }, api: { ...docker, size: 2, hostPort: 8083 } }, "prod")).to.not.throw();
    });

    it("bounds the size per backend, and refuses a fleet of 100,000 in milliseconds", () => {
        for (const [backend, fleet] of [["openstack", openstack], ["kubernetes", kubernetes], ["docker", docker]] as const) {
            const max = MAX_FLEET_SIZE[backend];
            expect(fleetLines({ web: { ...fleet, size: max + 1 } })).to.deep.equal([
                `  - herd:fleets.web.size = ${max + 1}: expected at most ${max} members: the most one ${backend} fleet may have`,
            ]);
            expect(() => parseFleets({ web: { ...fleet, size: max } }, "prod")).to.not.throw();
            const started = process.hrtime.bigint();
            expect(fleetLines({ web: { ...fleet, size: 100_000, rollout: { members: 100_000 } } })[0]).to.contain("herd:fleets.web.size = 100000");
            expect(Number(process.hrtime.bigint() - started) / 1e6).to.be.below(200);
        }
        expect(() => resolveDockerWorkload("web", { size: 100_000, release: { image: "x" } })).to.throw("size = 100000: expected at most 100 members");
    });

    it("refuses the cloud-config shapes cloud-init would reject or herd cannot add to", () => {
        const shapes: [string, string][] = [
            ["packages: nginx", '"packages" must be a list'],
            ["packages: [{ name: nginx }]", '"packages"[0] must be a package name or [name, version]'],
            ["runcmd: [{ a: 1 }]", '"runcmd"[0] must be a command: a string, or a list of strings'],
            ["write_files: [{ content: x }]", '"write_files"[0] must have an absolute path'],
            ["write_files: [{ path: /etc/herd/release.json, content: x }]", '"write_files"[0] writes /etc/herd/release.json, which herd writes itself'],
            ["write_files: [{ path: /etc/x, permissions: rwx }]", "\"write_files\"[0] must have permissions as an octal string such as '0644'"],
            ["package_update: 'yes'", '"package_update" must be true or false'],
        ];
        for (const [yaml, problem] of shapes) {
            const dir = project({ "cloud-init/web.yaml": `#cloud-config\n${yaml}\n` });
            expect(problemLines(() => resolveFleets({ web: { ...openstack, release: { ...openstack.release, userData: "cloud-init/web.yaml" } } }, { stack: "prod", projectDir: dir }))).to.deep.equal([
                `  - herd:fleets.web.release.userData = "cloud-init/web.yaml": expected a #cloud-config file; in this one ${problem}`,
            ]);
        }
    });

    it("reports every problem at once: schema, cross-key, files and settings together", () => {
        const lines = problemLines(() =>
            resolveStack(
                {
                    fleets: {
                        web: { ...openstack, size: -1 },
                        api: { ...openstack, release: { ...openstack.release, userData: "cloud-init/nope.yaml" } },
                        cache: { ...docker, size: 2, hostPort: 8080 },
                        queue: { ...docker, size: 2, hostPort: 8081 },
                    },
                    monitoring: { pushgateway: "ftp://pushgateway" },
                    kubernetes: { context: 3 },
                },
                { stack: "prod", projectDir: PROJECT_DIR },
            ),
        );
        expect(lines.map((line) => line.split(" ")[3])).to.deep.equal([
            "herd:monitoring.pushgateway",
            "herd:kubernetes.context",
            "herd:fleets.web.size",
            "herd:fleets.queue.hostPort",
            "herd:fleets.api.release.userData",
        ]);
    });

    it("derives Kubernetes names that are DNS labels within their limits, from the longest fleet and probe names", () => {
        const fleet = "a".repeat(29) + "z";
        const probe = "p".repeat(39) + "q";
        const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
        const generated = (name: string) => `${name}-1a2b3c4d`; // Pulumi adds a dash and 8 characters
        for (const name of [deploymentName(fleet, "canary"), disruptionBudgetName(fleet), configMapName(fleet, "canary", "files"), secretName(fleet, "canary", "files"), fleet]) {
            expect(generated(name), name).to.match(dnsLabel);
            expect(generated(name).length, name).to.be.at.most(63);
        }
        const cronJob = probeObjectName(fleet, probe);
        expect(generated(cronJob)).to.match(dnsLabel);
        expect(generated(cronJob).length).to.be.at.most(52);
        expect(fleetLines({ [`${fleet}x`]: kubernetes })[0]).to.contain("at most 30 characters");
        expect(fleetLines({ web: { ...kubernetes, probes: { [`${probe}x`]: { script: "probes/stuck_jobs.sh", every: "5m" } } } })[0]).to.contain("expected a probe name");
    });

    it("fails under the program as one RunError message, before registering anything", async () => {
        const error = await rejectionOf(
            runProgram({ program: PROGRAM, projectDir: PROJECT_DIR, stack: "hostile", config: { "herd:fleets": { web: { ...docker, size: 100_000 } } } }),
        );
        expect((error as ProgramError).resources).to.deep.equal([]);
        expect(pulumi.RunError.isInstance(error.cause)).to.equal(true);
        expect(error.message).to.equal(
            'Invalid herd config in stack "hostile" (Pulumi.hostile.yaml), 1 problem:\n  - herd:fleets.web.size = 100000: expected at most 100 members: the most one docker fleet may have',
        );
    });
});

describe("hostile input: a Docker container that is recreated never takes its old name", () => {
    const base = { size: 2, release: { image: "x@sha256:" + "1".repeat(64), port: 8080 }, health: { path: "/healthz", port: 8080 } };
    const changes: [string, object][] = [
        ["health", { health: { path: "/ready", port: 8080 } }],
        ["metrics", { metrics: { port: 9100, path: "/metrics" } }],
        ["metrics off", { metrics: false }],
        ["host port", { hostPort: 18080 }],
        ["limits", { memory: 512 }],
        ["health command", { healthCommand: ["CMD", "/app", "check"] }],
    ];
    for (const [what, change] of changes) {
        it(`renames every member when its ${what} changes, the release (and generation) staying`, () => {
            const before = resolveDockerWorkload("web", base);
            const after = resolveDockerWorkload("web", { ...base, ...change });
            expect(after.members.map((m) => m.generation)).to.deep.equal(before.members.map((m) => m.generation));
            for (const [slot, member] of after.members.entries()) {
                expect(member.containerName, `slot ${slot}`).to.not.equal(before.members[slot].containerName);
                expect(member.containerName.startsWith(`web-${slot}-${member.generation}-`)).to.equal(true);
            }
        });
    }

    it("keeps the name when nothing changes", () => {
        expect(resolveDockerWorkload("web", base).members.map((m) => m.containerName)).to.deep.equal(resolveDockerWorkload("web", { ...base }).members.map((m) => m.containerName));
    });

    it("renames a probe container when its Pushgateway changes", async () => {
        const names = async (pushgateway: string) =>
            (
                await runProgram({
                    program: PROGRAM,
                    projectDir: PROJECT_DIR,
                    stack: "hostile",
                    config: { "herd:fleets": { web: { ...docker, probes: { stuck_jobs: { script: "probes/stuck_jobs.sh", every: "30s" } } } }, "herd:monitoring": { pushgateway } },
                })
            ).named("web-probe-stuck_jobs", "docker:index/container:Container").inputs.name;
        expect(await names("http://pushgateway-a:9091")).to.not.equal(await names("http://pushgateway-b:9091"));
    });
});

describe("hostile input: secret data in Kubernetes specs", () => {
    it("leaves secrets out of the ConfigMap data and puts them in the Secret data, markers for the component to fill", () => {
        const marker = secretMarker({ secure: "v1:x" });
        const release = { image: "x", env: { A: "1", T: marker }, files: { "/etc/a": "a", "/etc/k": marker } };
        expect(buildConfigMapData(release)).to.deep.equal({ env: { A: "1" }, files: { [Object.keys(buildConfigMapData({ image: "x", files: { "/etc/a": "a" } }).files ?? {})[0]]: "a" } });
        expect(Object.values(buildSecretData(release).env ?? {})).to.deep.equal([marker]);
        expect(Object.values(buildSecretData(release).files ?? {})).to.deep.equal([marker]);
        const w = resolveWorkload("web", { size: 1, release });
        expect(() => buildDeploymentSpec(w, w.roles[0], { env: "e", files: "f" })).to.throw("the stable pods need a files Secret exactly when the release has secret files");
        const spec = buildDeploymentSpec(w, w.roles[0], { env: "e", files: "f", secretEnv: "se", secretFiles: "sf" });
        expect(JSON.stringify(spec.template.metadata)).to.not.contain(marker);
    });
});
