import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { parseFleets } from "../components/fleet";
import { resolveFleets } from "../components/fleet";
import type { HealthCheck } from "../components/core/health";
import { containerInputs, defaultHealthCommand, DockerWorkload, httpHealthScript, resolveDockerWorkload, tcpListenScript } from "../components/docker";
import { buildDeploymentSpec, KubernetesWorkload, resolveWorkload } from "../components/kubernetes";
import { ServerGroup } from "../components/openstack";
import { ProgramError, runProgram } from "../components/testing";
import { PROJECT_DIR, rejectionOf, runStack, stackConfig } from "./helpers/project";
import { herd, temporaryRepositories } from "./helpers/repository";

/**
 * Health checks by kind: `{ path, port }` (HTTP), `{ port }` (TCP) and `{ command }` (run in the
 * member), in the stack config and from code, on each backend as its platform runs them.
 */

const IMAGE = "docker.io/library/redis:7.4-alpine";
const SERVER = { image: "6d1f0b7e-2c4a-4e8b-9f3d-5a7c1e9b2d40", flavor: "b3-8", networks: ["ext-net"] };
const REDIS = { image: IMAGE, port: 6379 };
const fleets = {
    docker: { backend: "docker", size: 2, release: REDIS },
    kubernetes: { backend: "kubernetes", size: 2, release: REDIS },
    openstack: { backend: "openstack", size: 2, release: { image: SERVER.image, flavor: "b3-8", network: "ext-net" } },
} as const;

/** The problem lines the stack config gives for fleet `cache`. */
function configLines(fleet: object): string[] {
    try {
        parseFleets({ cache: fleet }, "prod");
    } catch (err) {
        return (err as Error).message.split("\n").slice(1);
    }
    return [];
}

/** The problem lines a component refuses its arguments with, before anything is registered. */
async function codeLines(build: () => void): Promise<string[]> {
    const error = (await rejectionOf(runProgram({ program: build, config: {} }))) as ProgramError;
    expect(pulumi.RunError.isInstance(error.cause), String(error.cause)).to.equal(true);
    expect(error.resources).to.deep.equal([]);
    const lines = error.message.split("\n");
    return lines.slice(lines.findIndex((line) => line.endsWith("invalid arguments:")) + 1).filter((line) => line.startsWith("  - "));
}

const PORT_MISSING = "a port, 1–65535: { port } checks TCP, { path, port } HTTP; or { command } runs a command in the member instead";
const COMMAND_ALLOWED = "a command run in the member, e.g. [redis-cli, ping]: a non-empty list of arguments, each text without a NUL character, which no process can be given";
const BESIDE_COMMAND = "nothing beside command: a command check runs in the member, without a port or path ({ port } alone checks TCP)";
const OUTSIDE =
    "{ path, port } (HTTP) or { port } (TCP): an OpenStack fleet's members are checked from outside, by Octavia's health monitor, which cannot run a command in a server";

describe("health checks: the shapes a stack config and code may give", () => {
    it("takes { port } (TCP) on every backend and { command } on Kubernetes and Docker", () => {
        for (const backend of ["docker", "kubernetes", "openstack"] as const) {
            expect(configLines({ ...fleets[backend], health: { port: 6379 } }), backend).to.deep.equal([]);
        }
        for (const backend of ["docker", "kubernetes"] as const) {
            expect(configLines({ ...fleets[backend], health: { command: ["redis-cli", "ping"] } }), backend).to.deep.equal([]);
        }
    });

    const refused: [string, unknown, string[]][] = [
        ["a path without a port", { path: "/healthz" }, [`health.port is missing: required, ${PORT_MISSING}`]],
        ["nothing", {}, [`health.port is missing: required, ${PORT_MISSING}`]],
        ["port 0", { port: 0 }, ["health.port = 0: expected a port, 1–65535"]],
        ["an empty command", { command: [] }, [`health.command = []: expected ${COMMAND_ALLOWED}`]],
        ["a command that is a string", { command: "redis-cli ping" }, [`health.command = "redis-cli ping": expected ${COMMAND_ALLOWED}`]],
        ["a command with an empty argument", { command: ["redis-cli", ""] }, [`health.command = ["redis-cli",""]: expected ${COMMAND_ALLOWED}`]],
        ["a NUL in a command", { command: ["sh", "-c", "ping\u0000"] }, ['health.command[2] = "ping\\u0000": expected text without a NUL character, which no process can be given']],
        ["a command and a port", { command: ["redis-cli", "ping"], port: 6379 }, [`health.port = 6379: expected ${BESIDE_COMMAND}`]],
        ["a command and a path", { command: ["redis-cli", "ping"], path: "/healthz" }, [`health.path = "/healthz": expected ${BESIDE_COMMAND}`]],
    ];
    for (const [title, health, lines] of refused) {
        it(`refuses ${title} with the same words in the stack config and from code, on Kubernetes and Docker`, async () => {
            for (const backend of ["docker", "kubernetes"] as const) {
                expect(configLines({ ...fleets[backend], health }), backend).to.deep.equal(lines.map((line) => `  - herd:fleets.cache.${line}`));
            }
            const args = { size: 2, release: REDIS, health: health as HealthCheck };
            expect(await codeLines(() => new KubernetesWorkload("cache", args))).to.deep.equal(lines.map((line) => `  - ${line}`));
            expect(await codeLines(() => new DockerWorkload("cache", args))).to.deep.equal(lines.map((line) => `  - ${line}`));
        });
    }

    it("refuses a command on OpenStack, where Octavia checks members from outside, in the stack config and from code", async () => {
        expect(configLines({ ...fleets.openstack, health: { command: ["redis-cli", "ping"] } })).to.deep.equal([
            `  - herd:fleets.cache.health.command = ["redis-cli","ping"]: expected ${OUTSIDE}`,
        ]);
        const health = { command: ["redis-cli", "ping"] } as unknown as { port: number };
        expect(await codeLines(() => new ServerGroup("cache", { size: 2, release: SERVER, health, loadBalancer: { port: 6379, protocol: "TCP" } }))).to.deep.equal([
            `  - health.command = ["redis-cli","ping"]: expected ${OUTSIDE}`,
        ]);
    });

    it("says that { port } will do where a load balancer needs a check", () => {
        expect(configLines({ ...fleets.openstack, loadBalancer: { port: 6379, protocol: "TCP" } })).to.deep.equal([
            "  - herd:fleets.cache.health is missing: required, { path, port } (HTTP) or { port } (TCP) when loadBalancer is set: traffic goes only to members that pass it",
        ]);
    });

    it("names a misspelt key and what the check still lacks", () => {
        expect(configLines({ ...fleets.docker, health: { prot: 6379 } })).to.deep.equal([
            '  - herd:fleets.cache.health.prot = 6379: unknown key; did you mean "port"? allowed keys: path, port, command',
            `  - herd:fleets.cache.health.port is missing: required, ${PORT_MISSING}`,
        ]);
    });
});

describe("health checks: what each backend runs", () => {
    it("Kubernetes: tcpSocket for { port }, exec for { command }, httpGet for { path, port } as before", () => {
        const probes = (health: HealthCheck) => {
            const w = resolveWorkload("cache", { size: 2, release: REDIS, health });
            const container = buildDeploymentSpec(w, w.roles[0], {}).template.spec.containers[0];
            return [container.startupProbe, container.readinessProbe, container.livenessProbe];
        };
        const timing = [
            { periodSeconds: 5, failureThreshold: 30 },
            { periodSeconds: 5, failureThreshold: 3 },
            { periodSeconds: 10, failureThreshold: 3 },
        ];
        expect(probes({ port: 6379 })).to.deep.equal(timing.map((t) => ({ tcpSocket: { port: 6379 }, timeoutSeconds: 2, ...t })));
        expect(probes({ command: ["redis-cli", "ping"] })).to.deep.equal(timing.map((t) => ({ exec: { command: ["redis-cli", "ping"] }, timeoutSeconds: 5, ...t })));
        expect(probes({ path: "/ready", port: 8080 })).to.deep.equal(
            timing.map((t) => ({ httpGet: { path: "/ready", port: 8080, scheme: "HTTP" }, timeoutSeconds: 2, ...t })),
        );
    });

    it("Kubernetes: the Deployments with each kind of probe pass the Kubernetes schema", async () => {
        const { Deployment } = (await import("kubernetes-models/apps/v1/Deployment")) as unknown as { Deployment: new (data: unknown) => { validate(): void } };
        for (const health of [{ port: 6379 }, { command: ["redis-cli", "ping"] }, { path: "/ready", port: 6379 }] as HealthCheck[]) {
            const w = resolveWorkload("cache", { size: 2, release: REDIS, health });
            const spec = buildDeploymentSpec(w, w.roles[0], {});
            new Deployment({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "cache-stable", namespace: "default" }, spec }).validate();
        }
    });

    it("Docker: { port } reads the kernel's socket table with /bin/sh alone; { command } runs as given, without a shell", () => {
        const test = (health: HealthCheck) => {
            const w = resolveDockerWorkload("cache", { size: 1, release: REDIS, health });
            return containerInputs(w, w.members[0], { image: "sha256:1", network: "net" }).healthcheck;
        };
        expect(test({ port: 6379 })).to.deep.equal({ tests: ["CMD-SHELL", tcpListenScript(6379)], interval: "10s", timeout: "3s", retries: 3, startPeriod: "15s" });
        expect(tcpListenScript(6379)).to.include("*:18EB)").and.not.match(/\b(nc|wget|curl|bash|grep|awk)\b/);
        expect(test({ command: ["redis-cli", "ping"] })?.tests).to.deep.equal(["CMD", "redis-cli", "ping"]);
        expect(test({ path: "/healthz", port: 8080 })?.tests).to.deep.equal(["CMD-SHELL", httpHealthScript(8080, "/healthz")]);
        expect(defaultHealthCommand({ path: "/healthz", port: 8080 })).to.deep.equal(test({ path: "/healthz", port: 8080 })?.tests);
    });

    describe("Docker: the TCP check, run by the shells images carry", function () {
        this.timeout(20_000);
        const shells = ["/bin/sh", "/usr/bin/dash", "/bin/bash"].filter((shell) => fs.existsSync(shell));
        let servers: net.Server[] = [];
        afterEach(() => {
            servers.forEach((server) => server.close());
            servers = [];
        });
        const listen = (host: string) =>
            new Promise<number>((resolve) => {
                const server = net.createServer();
                servers.push(server);
                server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
            });
        const check = (shell: string, port: number) => spawnSync(shell, ["-c", tcpListenScript(port)], { encoding: "utf8" }).status;

        it("is healthy while a socket listens on the port (IPv4 or IPv6), unhealthy once it is closed", async () => {
            expect(shells.length).to.be.greaterThan(0);
            const v4 = await listen("127.0.0.1");
            const v6 = await listen("::1").catch(() => undefined);
            for (const shell of shells) {
                expect(check(shell, v4), `${shell}, port ${v4}`).to.equal(0);
                if (v6 !== undefined) {
                    expect(check(shell, v6), `${shell}, IPv6 port ${v6}`).to.equal(0);
                }
            }
            servers.forEach((server) => server.close());
            await new Promise((resolve) => setTimeout(resolve, 100));
            for (const shell of shells) {
                expect(check(shell, v4), `${shell}, closed port ${v4}`).to.equal(1);
            }
        });

        it("is not fooled by a connection from the port: only a listening socket counts", async () => {
            const port = await listen("127.0.0.1");
            const client = net.connect(port, "127.0.0.1");
            await new Promise((resolve) => client.once("connect", resolve));
            servers.forEach((server) => server.close());
            const clientPort = client.localPort as number;
            try {
                // The client's own port is in the table as ESTABLISHED, not LISTEN.
                expect(check(shells[0], clientPort)).to.equal(1);
            } finally {
                client.destroy();
            }
        });

        it("passes shellcheck as a POSIX sh script", () => {
            const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "herd-health-")), "check.sh");
            fs.writeFileSync(file, `${tcpListenScript(6379)}\n`);
            const result = spawnSync("shellcheck", ["--shell=sh", file], { encoding: "utf8" });
            fs.rmSync(path.dirname(file), { recursive: true, force: true });
            expect(result.error, "shellcheck is installed (.ci/run installs it)").to.equal(undefined);
            expect(result.stdout + result.stderr).to.equal("");
            expect(result.status).to.equal(0);
        });
    });
    describe("Docker: the HTTP check, run by /bin/sh with whichever client the image has", function () {
        this.timeout(30_000);
        let server: http.Server;
        let port: number;
        const bins: string[] = [];
        before(async () => {
            server = http.createServer((request, response) => {
                response.writeHead(request.url === "/healthz?deep=1" ? 200 : request.url === "/moved" ? 302 : 500, { location: "/healthz?deep=1" });
                response.end("ok");
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            port = (server.address() as net.AddressInfo).port;
        });
        after(() => {
            server.close();
            bins.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true }));
        });
        /** A PATH holding only the given programs, as an image that carries only them. */
        const only = (...programs: string[]) => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-image-bin-"));
            bins.push(dir);
            for (const program of programs) {
                const found = ["/usr/bin", "/bin"].map((d) => path.join(d, program)).find((p) => fs.existsSync(p));
                expect(found, `${program} is installed (.ci/run installs it)`).to.not.equal(undefined);
                fs.symlinkSync(found as string, path.join(dir, program));
            }
            return dir;
        };
        /** The check's exit status, run as Docker runs CMD-SHELL: `/bin/sh -c`, here with the image's PATH. */
        const check = (pathDir: string, checkPath: string, checkPort = port) =>
            new Promise<number | null>((resolve) => {
                const child = execFile("/bin/sh", ["-c", httpHealthScript(checkPort, checkPath)], { env: { PATH: pathDir }, timeout: 10_000 }, () => resolve(child.exitCode));
            });

        for (const client of ["wget", "curl", "bash"]) {
            it(`with only ${client}: healthy on 200 and 302, unhealthy on 500 and on a closed port`, async () => {
                const dir = only(client);
                expect(await check(dir, "/healthz?deep=1"), "200").to.equal(0);
                expect(await check(dir, "/moved"), "302").to.equal(0);
                expect(await check(dir, "/broken"), "500").to.equal(1);
                const closed = await new Promise<number>((resolve) => {
                    const probe = net.createServer().listen(0, "127.0.0.1", () => {
                        const free = (probe.address() as net.AddressInfo).port;
                        probe.close(() => resolve(free));
                    });
                });
                expect(await check(dir, "/healthz?deep=1", closed), "closed port").to.not.equal(0);
            });
        }

        it("with no client at all: healthy while the port listens, whatever the path answers", async () => {
            const dir = only();
            expect(await check(dir, "/broken")).to.equal(0);
            const closed = await new Promise<number>((resolve) => {
                const probe = net.createServer().listen(0, "127.0.0.1", () => {
                    const free = (probe.address() as net.AddressInfo).port;
                    probe.close(() => resolve(free));
                });
            });
            expect(await check(dir, "/healthz", closed)).to.equal(1);
        });

        it("passes the path to bash as data, and the script passes shellcheck as POSIX sh", () => {
            const script = httpHealthScript(8080, "/a$(touch x)`b`;c");
            expect(script).to.include(" herd-health 8080 '/a$(touch x)`b`;c'");
            const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "herd-health-")), "check.sh");
            fs.writeFileSync(file, `${httpHealthScript(8080, "/healthz")}\n`);
            const result = spawnSync("shellcheck", ["--shell=sh", file], { encoding: "utf8" });
            fs.rmSync(path.dirname(file), { recursive: true, force: true });
            expect(result.stdout + result.stderr).to.equal("");
            expect(result.status).to.equal(0);
        });
    });
});

describe("health checks: a Redis fleet with health: { port: 6379 } through the program", function () {
    this.timeout(60_000);
    const repository = temporaryRepositories();

    /** The dev stack with a Redis fleet on each backend, checked over TCP. */
    function redisStack() {
        const config = stackConfig("dev");
        config["herd:fleets"] = {
            ...(config["herd:fleets"] as object),
            cache: { ...fleets.docker, health: { port: 6379 } },
            "cache-k8s": { ...fleets.kubernetes, health: { port: 6379 } },
            "cache-vm": { ...fleets.openstack, health: { port: 6379 }, loadBalancer: { port: 6379, protocol: "TCP" } },
        };
        return config;
    }

    it("registers each backend's TCP check: a Docker healthcheck, tcpSocket probes, an Octavia TCP monitor", async () => {
        const run = await runStack("dev", redisStack());
        const container = run.named("cache-0", "docker:index/container:Container");
        expect((container.inputs.healthcheck as { tests: string[] }).tests).to.deep.equal(["CMD-SHELL", tcpListenScript(6379)]);
        expect(container.inputs.wait).to.equal(true);
        const deployment = run.named("cache-k8s-stable", "kubernetes:apps/v1:Deployment");
        const pod = (deployment.inputs.spec as { template: { spec: { containers: { readinessProbe: unknown }[] } } }).template.spec;
        expect(pod.containers[0].readinessProbe).to.deep.equal({ tcpSocket: { port: 6379 }, timeoutSeconds: 2, periodSeconds: 5, failureThreshold: 3 });
        const monitor = run.named("cache-vm-monitor", "openstack:loadbalancer/monitor:Monitor");
        expect(monitor.inputs).to.include({ type: "TCP", delay: 5, timeout: 3, maxRetries: 3 });
        expect(monitor.inputs).to.not.have.property("urlPath");
        expect(run.ofType("openstack:loadbalancer/member:Member").map((m) => [m.inputs.protocolPort, m.inputs.monitorPort])).to.deep.equal([
            [6379, 6379],
            [6379, 6379],
        ]);
        // The security group opens the health port, as for an HTTP check.
        expect(run.named("cache-vm-ingress-tcp-6379-0-0-0-0-0", "openstack:networking/secGroupRule:SecGroupRule").inputs).to.include({ portRangeMin: 6379 });
    });

    it("resolves the same arguments from the stack config as code would give", () => {
        const resolved = resolveFleets(redisStack()["herd:fleets"], { stack: "dev", projectDir: PROJECT_DIR });
        const health = Object.fromEntries(resolved.map((fleet) => [fleet.name, fleet.args.health]));
        expect(health).to.deep.include({ cache: { port: 6379 }, "cache-k8s": { port: 6379 }, "cache-vm": { port: 6379 } });
    });

    it("is planned by herd plan: its members to create, and nothing else", async () => {
        const dir = repository();
        const file = path.join(dir, "Pulumi.dev.yaml");
        const { stringify } = await import("yaml");
        fs.writeFileSync(file, stringify({ config: redisStack() }));
        const result = await herd(dir, "plan", "--stack", "dev", "--json", "--against", "HEAD");
        expect(result.stderr).to.equal("");
        expect(result.code).to.equal(2);
        const plan = JSON.parse(result.stdout);
        const created = plan.changes.map((c: { fleet: string; slot: number; action: string }) => [c.fleet, c.slot, c.action]);
        // A Kubernetes fleet's members are the replicas of one Deployment: one change, no slot.
        expect(created).to.have.deep.members([
            ["cache", 0, "create"],
            ["cache", 1, "create"],
            ["cache-k8s", null, "create"],
            ["cache-vm", 0, "create"],
            ["cache-vm", 1, "create"],
        ]);
    });
});
