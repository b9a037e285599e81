import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { formatValue } from "../components/config";
import { MAX_FLEET_SIZE, parseFleets } from "../components/fleet";
import { resolveStack } from "../components/fleet";
import { HTTP_PATH_ALLOWED } from "../components/config/grammar";
import { DockerWorkload, resolveDockerWorkload } from "../components/docker";
import { KubernetesWorkload, resolveWorkload } from "../components/kubernetes";
import { ServerGroup } from "../components/openstack";
import { isSecret, ProgramError, ProgramRun, runProgram } from "../components/testing";
import { plugin } from "./helpers/componentPackage";
import { PROJECT_DIR, rejectionOf } from "./helpers/project";

/**
 * Hostile arguments given in code — by a program that builds fleets itself with the SDK, or
 * through the component package from another language — refused as the stack config's are: the
 * same grammar, the same words, every problem at once, before anything is registered.
 */

/** Strings that mean something to a shell, an HTTP client, YAML or a URL. */
const HOSTILE = ["'", '"', "$(id)", "`id`", "\n", ";reboot", "a b", "\\", "%n", "\u0000", "/../../etc/passwd?x=<y>", "#frag"];

const IMAGE = "registry.example.org/api@sha256:" + "a".repeat(64);
const SERVER = { image: "6d1f0b7e-2c4a-4e8b-9f3d-5a7c1e9b2d40", flavor: "b3-8", networks: ["ext-net"] };

/** The message a component's constructor throws, and what was registered before it did. */
async function refusal(program: () => void): Promise<{ message: string; resources: readonly unknown[] }> {
    const error = (await rejectionOf(runProgram({ program, config: {} }))) as ProgramError;
    expect(error).to.be.instanceOf(ProgramError);
    // A RunError: `pulumi up` prints the message alone, no stack trace.
    expect(pulumi.RunError.isInstance(error.cause), String(error.cause)).to.equal(true);
    return { message: error.message, resources: error.resources };
}

/** The one problem line the stack config gives for a fleet, without its key path. */
function configProblem(fleet: object): string {
    try {
        parseFleets({ web: fleet }, "prod");
    } catch (err) {
        const lines = (err as Error).message.split("\n").slice(1);
        expect(lines, lines.join("\n")).to.have.length(1);
        return lines[0].replace(/^ {2}- herd:fleets\.web\./, "");
    }
    throw new Error("expected the stack config to be refused");
}

describe("hostile input given in code: health paths and load balancer checks", () => {
    for (const bad of HOSTILE) {
        const path = `/healthz${bad}`;
        const line = `health.path = ${formatValue(path)}: expected ${HTTP_PATH_ALLOWED}`;

        it(`refuses the health path ${formatValue(path)} on every backend, as the stack config does`, async () => {
            const health = { path, port: 8080 };
            expect(() => resolveWorkload("api", { size: 2, release: { image: IMAGE, port: 8080 }, health })).to.throw(`KubernetesWorkload "api": invalid arguments:\n  - ${line}`);
            expect(() => resolveDockerWorkload("api", { size: 2, release: { image: IMAGE, port: 8080 }, health })).to.throw(`DockerWorkload "api": invalid arguments:\n  - ${line}`);
            // The load balancer's monitor sends it as its urlPath: refused before a monitor exists.
            const openstack = await refusal(() => new ServerGroup("web", { size: 2, release: SERVER, health, loadBalancer: { port: 80 } }));
            expect(openstack.message).to.contain(`ServerGroup "web": invalid arguments:\n  - ${line}`);
            expect(openstack.resources).to.deep.equal([]);
            const kubernetes = await refusal(() => new KubernetesWorkload("api", { size: 2, release: { image: IMAGE, port: 8080 }, health }));
            expect(kubernetes.message).to.contain(`KubernetesWorkload "api": invalid arguments:\n  - ${line}`);
            expect(kubernetes.resources).to.deep.equal([]);
            // The same words as the stack config's check of the same value.
            expect(configProblem({ backend: "kubernetes", size: 2, release: { image: IMAGE, port: 8080 }, health })).to.equal(line);
        });
    }

    it("refuses hostile fleet names on every backend and through the component package, before anything is registered", async () => {
        for (const bad of [...HOSTILE.map((h) => `web${h}`), 'web"} 1\nherd_release_info{fleet="x', "Web", "w".repeat(31), ""]) {
            const line = `  - name = ${formatValue(bad)}: expected a fleet name: lowercase letters, digits and '-', starting with a letter, at most 30 characters`;
            for (const [component, build] of [
                ["ServerGroup", () => new ServerGroup(bad, { size: 1, release: SERVER })],
                ["KubernetesWorkload", () => new KubernetesWorkload(bad, { size: 1, release: { image: IMAGE } })],
                ["DockerWorkload", () => new DockerWorkload(bad, { size: 1, release: { image: IMAGE } })],
                ["herd:index:ServerGroup", () => new plugin.ServerGroup(bad, { size: 1, release: SERVER })],
                ["herd:index:DockerWorkload", () => new plugin.DockerWorkload(bad, { size: 1, release: { image: IMAGE } })],
            ] as const) {
                const { message, resources } = await refusal(build);
                expect(message, component).to.contain(`${component} ${JSON.stringify(bad)}: invalid arguments:\n${line}`);
                expect(resources, component).to.deep.equal([]);
            }
        }
    });

    it("refuses a hostile metrics path on Kubernetes with the HTTP path grammar", () => {
        expect(() => resolveWorkload("api", { size: 1, release: { image: IMAGE, port: 8080 }, metrics: { path: "/metrics $(id)" } })).to.throw(
            `  - metrics.path = "/metrics $(id)": expected ${HTTP_PATH_ALLOWED}`,
        );
    });

    it("refuses bad ports, ranges and duplicate rules of an OpenStack fleet, all at once, before anything is registered", async () => {
        const { message, resources } = await refusal(
            () =>
                new ServerGroup("web", {
                    size: 2,
                    release: SERVER,
                    health: { path: "/healthz", port: 0 },
                    loadBalancer: { port: 70_000 },
                    ingress: [
                        { port: 80, cidr: "10.0.0.1/8" },
                        { port: 443, cidr: "::/0" },
                        { port: 22, cidr: "0.0.0.0/00" },
                        { port: 53, protocol: "icmp" as "udp", cidr: "10.0.0.0/8" },
                        { port: 80, cidr: "10.0.0.1/8" },
                        { port: 1.5, cidr: "10.0.0.0/8" },
                    ],
                }),
        );
        expect(resources).to.deep.equal([]);
        expect(message.split("\n").slice(message.split("\n").findIndex((l) => l.startsWith('ServerGroup "web"')))).to.deep.equal([
            'ServerGroup "web": invalid arguments:',
            "  - health.port = 0: expected a port, 1–65535",
            "  - loadBalancer.port = 70000: expected a port, 1–65535",
            '  - ingress[0].cidr = "10.0.0.1/8": expected an IPv4 CIDR such as 10.0.0.0/8; this one: host bits are set: the range is 10.0.0.0/8',
            '  - ingress[1].cidr = "::/0": expected an IPv4 CIDR such as 10.0.0.0/8; this one: an IPv6 range: the fleet\'s security group rules are IPv4',
            "  - ingress[2].cidr = \"0.0.0.0/00\": expected an IPv4 CIDR such as 10.0.0.0/8; this one: the prefix after '/' must be a whole number from 0 to 32",
            '  - ingress[3].protocol = "icmp": expected tcp | udp',
            '  - ingress[4] = {"port":80,"cidr":"10.0.0.1/8"}: expected a rule that ingress[0] does not give already',
            '  - ingress[4].cidr = "10.0.0.1/8": expected an IPv4 CIDR such as 10.0.0.0/8; this one: host bits are set: the range is 10.0.0.0/8',
            "  - ingress[5].port = 1.5: expected a port, 1–65535",
        ]);
    });

    it("states each backend's bound on the size in the README's config reference", () => {
        const row = readFileSync(join(__dirname, "..", "README.md"), "utf8").split("\n").find((line) => line.startsWith("| `size` |")) ?? "";
        const stated = (n: number) => n.toLocaleString("en-US");
        expect(row).to.contain(
            `at most ${stated(MAX_FLEET_SIZE.openstack)} (openstack), ${stated(MAX_FLEET_SIZE.kubernetes)} (kubernetes) or ${stated(MAX_FLEET_SIZE.docker)} (docker)`,
        );
    });

    it("bounds a Kubernetes fleet built in code like one in the stack config, in milliseconds", () => {
        const started = process.hrtime.bigint();
        expect(() => resolveWorkload("api", { size: 100_000, release: { image: IMAGE } })).to.throw("  - size = 100000: expected at most 10000 members");
        expect(Number(process.hrtime.bigint() - started) / 1e6).to.be.below(200);
    });
});

describe("hostile input given in code: Outputs and secrets", () => {
    const TOKEN = "pl41ntext-t0ken-3c9e";
    const KEY = "-----BEGIN PRIVATE KEY-----\nMIIEv\n";

    it("takes an Output in a TypeScript release's env or files as a secret, and refuses what is neither text nor an Output, without showing either", async () => {
        const release = { image: IMAGE, env: { TOKEN: pulumi.secret(TOKEN) }, files: { "/etc/key.pem": pulumi.secret(KEY) } };
        for (const build of [() => void new DockerWorkload("api", { size: 1, release }), () => void new KubernetesWorkload("api", { size: 1, release })]) {
            const run = await runProgram({ program: build, config: {} });
            expect(run.resources.length).to.be.greaterThan(1);
            expect(run.plainText(TOKEN)).to.deep.equal([]);
            expect(run.plainText("BEGIN PRIVATE KEY")).to.deep.equal([]);
        }
        const notText = { image: IMAGE, env: { TOKEN: { value: TOKEN } as unknown as string }, files: { "/etc/key.pem": [KEY] as unknown as string } };
        for (const build of [() => new DockerWorkload("api", { size: 1, release: notText }), () => new KubernetesWorkload("api", { size: 1, release: notText })]) {
            const { message, resources } = await refusal(build);
            expect(resources).to.deep.equal([]);
            expect(message).to.contain("  - release.env.TOKEN is not a string: expected text, or an Output of text (a value wired from another resource, a secret)");
            expect(message).to.contain('  - release.files["/etc/key.pem"] is not a string');
            expect(message).to.not.contain(TOKEN).and.not.contain("BEGIN");
        }
    });

    it("takes a secret Output (from ESC, say) behind a marker the program chooses, and keeps it secret", async () => {
        const marker = "[secret 00000001]";
        const release = { image: IMAGE, port: 8080, env: { TOKEN: marker } };
        const run = await runProgram({ program: () => void new KubernetesWorkload("api", { size: 2, release, secrets: new Map([[marker, pulumi.secret(TOKEN)]]) }), config: {} });
        const secret = run.named("api-stable-secret-env", "kubernetes:core/v1:Secret");
        expect(isSecret(secret.inputs.stringData)).to.equal(true);
        expect((secret.inputs.stringData as { value: unknown }).value).to.deep.equal({ TOKEN });
        expect(run.plainText(TOKEN)).to.deep.equal([]);
    });

    /** A fleet through the component package, with a secret env value and file, as another language gives them. */
    const secretRelease = (token: string) => ({ image: IMAGE, port: 8080, env: { LOG_LEVEL: "info", TOKEN: pulumi.secret(token) }, files: { "/etc/app/key.pem": pulumi.secret(KEY) } });

    async function viaPackage(build: () => unknown): Promise<ProgramRun> {
        return runProgram({ program: () => void build(), config: {} });
    }

    it("component package: keeps a secret given to a Docker fleet secret in the container, and nowhere in plain text", async () => {
        const run = await runProgram({
            program: () => {
                const fleet = new plugin.DockerWorkload("api", { size: 2, release: secretRelease(TOKEN) });
                return { containerNames: fleet.containerNames, generations: fleet.generations };
            },
            config: {},
        });
        expect(run.outputs.containerNames).to.have.length(2);
        const containers = run.ofType("docker:index/container:Container");
        expect(containers).to.have.length(2);
        for (const container of containers) {
            expect(isSecret(container.inputs.envs), container.name).to.equal(true);
            expect(isSecret(container.inputs.uploads), container.name).to.equal(true);
            expect((container.inputs.envs as { value: string[] }).value).to.deep.equal(["LOG_LEVEL=info", `TOKEN=${TOKEN}`]);
            expect((container.inputs.uploads as { value: { content: string }[] }).value.map((u) => u.content)).to.deep.equal([KEY]);
            // A new value recreates the container under its name: never create-before-delete.
            expect(container.options.deleteBeforeReplace, container.name).to.equal(true);
        }
        expect(run.plainText(TOKEN)).to.deep.equal([]);
        expect(run.plainText("BEGIN PRIVATE KEY")).to.deep.equal([]);
        expect(JSON.stringify(run.outputs)).to.not.contain(TOKEN);
    });

    it("component package: puts a secret given to a Kubernetes fleet in a Secret, not a ConfigMap", async () => {
        const run = await viaPackage(() => new plugin.KubernetesWorkload("api", { size: 2, release: secretRelease(TOKEN) }));
        const secret = run.named("api-stable-secret-env", "kubernetes:core/v1:Secret");
        expect(isSecret(secret.inputs.stringData)).to.equal(true);
        expect((secret.inputs.stringData as { value: unknown }).value).to.deep.equal({ TOKEN });
        expect(isSecret(run.named("api-stable-secret-files", "kubernetes:core/v1:Secret").inputs.stringData)).to.equal(true);
        expect(run.named("api-stable-env", "kubernetes:core/v1:ConfigMap").inputs.data).to.deep.equal({ LOG_LEVEL: "info" });
        expect(run.plainText(TOKEN)).to.deep.equal([]);
        expect(run.plainText("BEGIN PRIVATE KEY")).to.deep.equal([]);
    });

    it("component package: knows a secret by its place, so names and generations tell nothing of its value", async () => {
        const names = async (token: string) => {
            const run = await viaPackage(() => new plugin.DockerWorkload("api", { size: 1, release: secretRelease(token) }));
            return [...run.ofType("docker:index/container:Container").map((c) => c.inputs.name), JSON.stringify(run.ofType("docker:index/container:Container")[0].inputs.labels)];
        };
        expect(await names("another-value")).to.deep.equal(await names(TOKEN));
        // A rollout whose previous release holds the secret at the same place keeps that release's generation.
        const generations = (run: ProgramRun) => run.ofType("docker:index/container:Container").map((c) => c.inputs.name);
        const before = await viaPackage(() => new plugin.DockerWorkload("api", { size: 2, release: secretRelease(TOKEN) }));
        const during = await viaPackage(
            () => new plugin.DockerWorkload("api", { size: 2, release: { ...secretRelease(TOKEN), port: 9090 }, rollout: { members: 1, previous: secretRelease(TOKEN) } }),
        );
        expect(generations(during)[1]).to.equal(generations(before)[1]);
        expect(generations(during)[0]).to.not.equal(generations(before)[0]);
    });

    it("component package: takes a server release's networks, key pair and user data wired from other resources, the user data kept secret", async () => {
        const userData = "#cloud-config\nwrite_files:\n  - path: /etc/app/token\n    content: s3cr3t-user-data\n";
        const release = {
            ...SERVER,
            networks: [pulumi.output("9b2d40e1-6d1f-4e8b-9f3d-5a7c1e9b2d40") as unknown as string],
            keyPair: pulumi.output("ops") as unknown as string,
            userData: pulumi.secret(userData) as unknown as string,
        };
        const run = await viaPackage(() => new plugin.ServerGroup("web", { size: 2, release }));
        const instances = run.ofType("openstack:compute/instance:Instance");
        expect(instances).to.have.length(2);
        for (const instance of instances) {
            expect(isSecret(instance.inputs.userData), instance.name).to.equal(true);
            expect(instance.inputs.keyPair).to.equal("ops");
            expect(instance.inputs.networks).to.deep.equal([{ uuid: "9b2d40e1-6d1f-4e8b-9f3d-5a7c1e9b2d40" }]);
        }
        expect(run.plainText("s3cr3t-user-data")).to.deep.equal([]);
    });

    it("component package: refuses Outputs where herd needs values, and create-before-delete with a secret on Docker, before anything is registered", async () => {
        const server = await refusal(() => new plugin.ServerGroup("web", { size: 1, release: { ...SERVER, image: pulumi.output(SERVER.image) as unknown as string } }));
        expect(server.resources).to.deep.equal([]);
        expect(server.message).to.contain(
            'herd:index:ServerGroup "web": invalid arguments:\n  - release.image is an Output (a secret, or a value known only at deploy time): expected a plain value, which herd hashes into generations and names; only a release\'s networks, keyPair, securityGroups and userData may be Outputs',
        );
        const docker = await refusal(
            () =>
                new plugin.DockerWorkload("api", {
                    size: 1,
                    release: { ...secretRelease(TOKEN), image: pulumi.output(IMAGE) as unknown as string },
                    update: { order: plugin.UpdateOrder.CreateBeforeDelete },
                }),
        );
        expect(docker.resources).to.deep.equal([]);
        expect(docker.message.split("\n").filter((l) => l.startsWith("  - "))).to.deep.equal([
            "  - release.image is an Output (a secret, or a value known only at deploy time): expected a plain value, which herd hashes into generations and names; only env values and file contents of a release may be Outputs",
            '  - update.order = "create-before-delete": expected delete-before-create (or no order) for a fleet whose env or files hold an Output: a new value of it recreates containers under the names they have, and a new container cannot take the name of one that still runs',
        ]);
        const kubernetes = await refusal(() => new plugin.KubernetesWorkload("api", { size: 1, release: secretRelease(TOKEN), namespace: pulumi.secret("api") as unknown as string }));
        expect(kubernetes.message).to.contain("  - namespace is an Output");
        expect(kubernetes.message).to.not.contain(TOKEN);
        // What the SDK refuses, the package refuses before it registers its own component.
        const health = { path: "/ready $(id)", port: 8080 };
        for (const build of [
            () => new plugin.KubernetesWorkload("api", { size: 1, release: secretRelease(TOKEN), health }),
            () => new plugin.DockerWorkload("api", { size: 1, release: secretRelease(TOKEN), health }),
            () => new plugin.ServerGroup("web", { size: 1, release: SERVER, health }),
        ]) {
            const refused = await refusal(build);
            expect(refused.message).to.contain(`  - health.path = "/ready $(id)": expected ${HTTP_PATH_ALLOWED}`);
            expect(refused.resources).to.deep.equal([]);
        }
    });
});

describe("hostile container releases: refused in the stack config and in code alike, before a pull or a start would fail", () => {
    const BAD_IMAGES = ["NGINX", "nginx latest", "nginx\n:latest", "Registry/app", "nginx:", "nginx@sha256:abc", "a".repeat(256), "$(id)", "nginx;reboot", "`id`", "-nginx", "nginx:1.27@"];
    const GOOD_IMAGES = [IMAGE, "nginx", "docker.io/library/nginx:1.27-alpine", "localhost:5000/team/app:v1", "[::1]:5000/app", "gcr.io/distroless/static:nonroot"];

    /** The lines each path gives: the stack config's (without its prefix) and the SDK's, for one release. */
    function refusals(release: Record<string, unknown>): { config: string[]; code: string[] } {
        let config: string[] = [];
        try {
            parseFleets({ web: { backend: "docker", size: 1, release } }, "prod");
        } catch (err) {
            config = (err as Error).message.split("\n").slice(1).map((line) => line.replace("herd:fleets.web.", ""));
        }
        const code: string[] = [];
        for (const resolve of [() => resolveDockerWorkload("web", { size: 1, release: release as never }), () => resolveWorkload("web", { size: 1, release: release as never })]) {
            try {
                resolve();
            } catch (err) {
                code.push(...(err as Error).message.split("\n").slice(1));
            }
        }
        return { config, code };
    }

    for (const image of BAD_IMAGES) {
        it(`refuses the image ${formatValue(image)}`, () => {
            const { config, code } = refusals({ image });
            expect(config).to.have.length(1);
            expect(config[0]).to.match(new RegExp(`^  - release\\.image = ${escape(formatValue(image))}: expected an image reference such as`));
            expect(code).to.deep.equal([config[0], config[0]]);
        });
    }

    it("takes the image references Docker and Kubernetes pull", () => {
        for (const image of GOOD_IMAGES) {
            expect(refusals({ image }), image).to.deep.equal({ config: [], code: [] });
        }
    });

    it("refuses a NUL in an env value, the command or the arguments: no process can be given one", () => {
        const { config, code } = refusals({ image: IMAGE, command: ["app\u0000"], args: ["--x", "a\u0000b"], env: { A: "x\u0000y" } });
        expect(config).to.deep.equal([
            '  - release.command[0] = "app\\u0000": expected text without a NUL character, which no process can be given',
            '  - release.args[1] = "a\\u0000b": expected text without a NUL character, which no process can be given',
            '  - release.env.A = "x\\u0000y": expected text without a NUL character, which no process can be given',
        ]);
        expect(code).to.deep.equal([...config, ...config]);
    });

    it("bounds env and files together by what one ConfigMap or Secret holds, and env names by a ConfigMap key's length", () => {
        const big = refusals({ image: IMAGE, env: { A: "x".repeat(600_000) }, files: { "/etc/app.conf": "y".repeat(600_000) } });
        const line = '  - release.files = (a map of 1 key: "/etc/app.conf"): expected at most 1048576 bytes of env and files together (what one Kubernetes ConfigMap or Secret holds); this release has 1200014';
        expect(big).to.deep.equal({ config: [line], code: [line, line] });
        expect(refusals({ image: IMAGE, env: { A: "x".repeat(1_000_000) } }).config).to.have.length(0);
        const name = "E".repeat(254);
        const long = refusals({ image: IMAGE, env: { [name]: "x" } });
        expect(long.config).to.have.length(1);
        expect(long.config[0]).to.match(/: expected an environment variable name$/);
        expect(long.code[0]).to.contain("expected an environment variable name");
        expect(refusals({ image: IMAGE, env: { [name.slice(1)]: "x" } })).to.deep.equal({ config: [], code: [] });
    });

    it("refuses a probe image that is no image reference", () => {
        const error = (() => {
            try {
                resolveStack({ fleets: {}, monitoring: { probeImage: "busybox latest" } }, { stack: "prod", projectDir: PROJECT_DIR });
            } catch (err) {
                return (err as Error).message;
            }
            return "";
        })();
        expect(error).to.contain('  - herd:monitoring.probeImage = "busybox latest": expected an image reference such as');
    });
});

/** A text as a regular expression that matches it literally. */
function escape(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("hostile OpenStack releases in the stack config: names the cloud would only fail to find", () => {
    const base = { image: "debian-12", flavor: "b3-8", network: "ext-net" };
    const problem = (release: object) => configProblem({ backend: "openstack", size: 1, release });

    it("refuses control characters and over-long names in every name or ID of a server release", () => {
        const cases: [object, string][] = [
            [{ ...base, image: "debian\n12" }, 'release.image = (a text of 9 characters on 2 lines): expected an image ID (preferred) or name: at most 255 characters, no control character'],
            [{ ...base, flavor: "b3-8\u0000" }, 'release.flavor = "b3-8\\u0000": expected a flavor name or ID: at most 255 characters, no control character'],
            [{ ...base, network: undefined, networks: ["ext-net", "x\ry"] }, 'release.networks[1] = "x\\ry": expected a network name or ID: at most 255 characters, no control character'],
            [{ ...base, keyPair: "k".repeat(256) }, "release.keyPair = (a text of 256 characters): expected a key pair name: at most 255 characters, no control character"],
            [{ ...base, securityGroups: ["web\t"] }, 'release.securityGroups[0] = "web\\t": expected a security group name: at most 255 characters, no control character'],
        ];
        for (const [release, line] of cases) {
            expect(problem(release)).to.equal(line);
        }
        expect(() => parseFleets({ web: { backend: "openstack", size: 1, release: { ...base, keyPair: "ops team" } } }, "prod")).to.not.throw();
    });
});
