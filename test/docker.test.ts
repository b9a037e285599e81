import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { parseFleets } from "../components/fleet";
import {
    CONTAINER_RELEASE_PROPERTIES,
    containerInputs,
    containerSettingsHash,
    defaultHealthCommand,
    httpHealthScript,
    dockerArgsFromConfig,
    dockerConfigProblems,
    DockerWorkload,
    DockerWorkloadArgs,
    imageResourceName,
    imagesOf,
    resolveDockerWorkload,
} from "../components/docker";
import { ContainerRelease, containerGeneration, generationOf } from "../components/release";
import { RecordedResource, runProgram } from "../components/testing";

const V1: ContainerRelease = { image: "registry.example.org/web@sha256:" + "1".repeat(64), port: 8080, env: { LOG_LEVEL: "info" } };
const V2: ContainerRelease = {
    image: "registry.example.org/web@sha256:" + "2".repeat(64),
    port: 8080,
    command: ["/web"],
    args: ["--serve", "--verbose"],
    env: { ZONE: "dev", LOG_LEVEL: "debug" },
    files: { "/etc/web/b.conf": "b\n", "/etc/web/a.conf": "a\n" },
};
const G1 = containerGeneration(V1);
const G2 = containerGeneration(V2);
/** A container's name: fleet, slot, generation, then a hash of its other inputs. */
const named = (slot: number, generation: string) => new RegExp(`^web-${slot}-${generation}-[0-9a-f]{8}$`);
const namesMatch = (names: readonly unknown[], generations: readonly string[]) =>
    names.length === generations.length && names.every((name, slot) => named(slot, generations[slot]).test(String(name)));

describe("docker: member plan", () => {
    it("runs release on slots below members and previous elsewhere, with the generation in the container name", () => {
        const w = resolveDockerWorkload("web", { size: 4, release: V2, rollout: { previous: V1, members: 1 } });
        expect(w.members.map((m) => [m.resourceName, m.containerName, m.current])).to.deep.equal([
            ["web-0", `web-0-${G2}-${containerSettingsHash(w, w.members[0])}`, true],
            ["web-1", `web-1-${G1}-${containerSettingsHash(w, w.members[1])}`, false],
            ["web-2", `web-2-${G1}-${containerSettingsHash(w, w.members[2])}`, false],
            ["web-3", `web-3-${G1}-${containerSettingsHash(w, w.members[3])}`, false],
        ]);
        expect(G1).to.not.equal(G2);
        expect(w.members[0].release.image).to.equal(V2.image);
        expect(w.members[1].release.image).to.equal(V1.image);
    });

    it("puts slots into batches in slot order, a quarter of the size by default", () => {
        expect(resolveDockerWorkload("web", { size: 5, release: V1 }).members.map((m) => m.batch)).to.deep.equal([0, 0, 1, 1, 2]);
        expect(resolveDockerWorkload("web", { size: 5, release: V1, update: { batch: 3 } }).members.map((m) => m.batch)).to.deep.equal([0, 0, 0, 1, 1]);
    });

    const orders: [string, Partial<DockerWorkloadArgs>, boolean[], (number | undefined)[]][] = [
        ["create-before-delete without host ports", {}, [false, false, false], [undefined, undefined, undefined]],
        ["delete-before-create when asked", { update: { order: "delete-before-create" } }, [true, true, true], [undefined, undefined, undefined]],
        ["delete-before-create for members with a host port, hostPort + slot each", { hostPort: 8000 }, [true, true, true], [8000, 8001, 8002]],
    ];
    for (const [title, args, deleteFirst, hostPorts] of orders) {
        it(`replaces ${title}`, () => {
            const w = resolveDockerWorkload("web", { size: 3, release: V1, ...args });
            expect(w.members.map((m) => m.deleteBeforeReplace)).to.deep.equal(deleteFirst);
            expect(w.members.map((m) => m.hostPort)).to.deep.equal(hostPorts);
        });
    }

    it("pulls each distinct image once, under a name derived from the reference", () => {
        const w = resolveDockerWorkload("web", { size: 4, release: V2, rollout: { previous: V1, members: 2 } });
        expect(imagesOf(w)).to.deep.equal([
            { resourceName: `web-image-${generationOf(V2.image)}`, image: V2.image },
            { resourceName: `web-image-${generationOf(V1.image)}`, image: V1.image },
        ]);
        expect(imageResourceName("web", V1.image)).to.equal(`web-image-${generationOf(V1.image)}`);
        expect(w.members.map((m) => m.imageResourceName)).to.deep.equal([
            imageResourceName("web", V2.image),
            imageResourceName("web", V2.image),
            imageResourceName("web", V1.image),
            imageResourceName("web", V1.image),
        ]);
    });

    it("is deterministic: the same release in another key order gives an identical plan and inputs", () => {
        const reordered: ContainerRelease = {
            files: { "/etc/web/a.conf": "a\n", "/etc/web/b.conf": "b\n" },
            env: { LOG_LEVEL: "debug", ZONE: "dev" },
            args: ["--serve", "--verbose"],
            command: ["/web"],
            port: 8080,
            image: V2.image,
        };
        const a = resolveDockerWorkload("web", { size: 3, release: V2, health: { path: "/healthz", port: 8080 } });
        const b = resolveDockerWorkload("web", { size: 3, release: reordered, health: { path: "/healthz", port: 8080 } });
        expect(JSON.stringify(b)).to.equal(JSON.stringify(a));
        const refs = { image: "sha256:abc", network: "web-net" };
        expect(JSON.stringify(containerInputs(b, b.members[1], refs))).to.equal(JSON.stringify(containerInputs(a, a.members[1], refs)));
    });
});

describe("docker: container inputs", () => {
    const refs = { image: "sha256:" + "f".repeat(64), network: "web-net-1234" };

    it("carry the release: image, entrypoint, arguments, env sorted, files sorted and read-only", () => {
        const w = resolveDockerWorkload("web", { size: 1, release: V2 });
        const inputs = containerInputs(w, w.members[0], refs);
        expect(inputs.name).to.match(named(0, G2));
        expect(inputs.image).to.equal(refs.image);
        expect(inputs.entrypoints).to.deep.equal(["/web"]);
        expect(inputs.command).to.deep.equal(["--serve", "--verbose"]);
        expect(inputs.envs).to.deep.equal(["LOG_LEVEL=debug", "ZONE=dev"]);
        expect(inputs.uploads).to.deep.equal([
            { file: "/etc/web/a.conf", content: "a\n", permissions: "0444" },
            { file: "/etc/web/b.conf", content: "b\n", permissions: "0444" },
        ]);
        expect(inputs).to.not.have.property("ports");
    });

    it("leave out what the release does not set", () => {
        const w = resolveDockerWorkload("web", { size: 1, release: { image: "busybox@sha256:" + "0".repeat(64) } });
        const inputs = containerInputs(w, w.members[0], refs);
        for (const key of ["entrypoints", "command", "envs", "uploads", "ports", "healthcheck", "wait"]) {
            expect(inputs, key).to.not.have.property(key);
        }
    });

    it("label fleet, slot, generation and Prometheus discovery, sorted by key", () => {
        const w = resolveDockerWorkload("web", { size: 3, release: V1 });
        expect(containerInputs(w, w.members[2], refs).labels).to.deep.equal([
            { label: "herd.dev/fleet", value: "web" },
            { label: "herd.dev/generation", value: G1 },
            { label: "herd.dev/slot", value: "2" },
            { label: "prometheus.io/path", value: "/metrics" },
            { label: "prometheus.io/port", value: "8080" },
            { label: "prometheus.io/scrape", value: "true" },
        ]);
        const off = resolveDockerWorkload("web", { size: 1, release: V1, metrics: false });
        expect(containerInputs(off, off.members[0], refs).labels.map((l) => l.label)).to.deep.equal([
            "herd.dev/fleet",
            "herd.dev/generation",
            "herd.dev/slot",
        ]);
        const custom = resolveDockerWorkload("web", { size: 1, release: V1, metrics: { port: 9100, path: "/m" } });
        expect(containerInputs(custom, custom.members[0], refs).labels).to.deep.include.members([
            { label: "prometheus.io/port", value: "9100" },
            { label: "prometheus.io/path", value: "/m" },
        ]);
    });

    it("check health over HTTP with the image's own client through /bin/sh, and wait for it before the next batch", () => {
        const w = resolveDockerWorkload("web", { size: 1, release: V1, health: { path: "/healthz", port: 8080 } });
        const inputs = containerInputs(w, w.members[0], refs);
        expect(inputs.healthcheck).to.deep.equal({
            tests: ["CMD-SHELL", httpHealthScript(8080, "/healthz")],
            interval: "10s",
            timeout: "3s",
            retries: 3,
            startPeriod: "15s",
        });
        expect(inputs.wait).to.equal(true);
        expect(defaultHealthCommand({ path: "/it's", port: 80 })[1]).to.include(`wget -q -O /dev/null 'http://127.0.0.1:80/it'\\''s' && exit 0`).and.include(` herd-health 80 '/it'\\''s'`);
        const own = resolveDockerWorkload("web", { size: 1, release: V1, health: { path: "/healthz", port: 8080 }, healthCommand: ["CMD", "/web", "check"] });
        expect(containerInputs(own, own.members[0], refs).healthcheck?.tests).to.deep.equal(["CMD", "/web", "check"]);
    });

    it("publish hostPort + slot on the local address only, by default", () => {
        const w = resolveDockerWorkload("web", { size: 2, release: V1, hostPort: 8000 });
        expect(containerInputs(w, w.members[1], refs).ports).to.deep.equal([{ internal: 8080, external: 8001, ip: "127.0.0.1", protocol: "tcp" }]);
        const open = resolveDockerWorkload("web", { size: 1, release: V1, hostPort: 8000, hostIp: "0.0.0.0" });
        expect(containerInputs(open, open.members[0], refs).ports?.[0].ip).to.equal("0.0.0.0");
    });

    it("restart unless stopped, with limits, no new privileges and a grace period, on the fleet network", () => {
        const w = resolveDockerWorkload("web", { size: 2, release: V1 });
        expect(containerInputs(w, w.members[1], refs)).to.deep.include({
            restart: "unless-stopped",
            memory: 256,
            cpus: "0.5",
            securityOpts: ["no-new-privileges:true"],
            destroyGraceSeconds: 10,
            networksAdvanced: [{ name: refs.network, aliases: ["web", "web-1"] }],
        });
        const big = resolveDockerWorkload("web", { size: 1, release: V1, memory: 1024, cpus: "2" });
        expect(containerInputs(big, big.members[0], refs)).to.deep.include({ memory: 1024, cpus: "2" });
    });
});

describe("docker: argument validation", () => {
    it("lists every problem with its key, value and what is allowed", () => {
        expect(() =>
            resolveDockerWorkload("Web", {
                size: 3,
                release: { image: "x" },
                update: { batch: 0 },
                hostPort: 65534,
                memory: 2,
                cpus: "half",
            }),
        ).to.throw(
            [
                'DockerWorkload "Web": invalid arguments:',
                "  - name = \"Web\": expected a fleet name: lowercase letters, digits and '-', starting with a letter, at most 30 characters",
                "  - update.batch = 0: expected a whole number ≥ 1",
                "  - hostPort = 65534: expected a base port with hostPort + size - 1 ≤ 65535 (slot i publishes hostPort + i; 3 slots need up to 65536)",
                "  - release.port is missing: required with hostPort, the container port the host port forwards to",
                "  - memory = 2: expected a whole number of MB, at least 6 (Docker's minimum)",
                '  - cpus = "half": expected a number of CPUs as a string, e.g. "0.5"',
            ].join("\n"),
        );
    });

    it("refuses more members than the size", () => {
        expect(() => resolveDockerWorkload("web", { size: 2, release: V2, rollout: { previous: V1, members: 3 } })).to.throw(
            "rollout.members = 3: expected a whole number from 0 to size (2)",
        );
    });
});

/** A pulled image's ID, derived from its reference, as the engine would report it. */
function imageId(ref: string): string {
    return `sha256:${generationOf(`id:${ref}`)}`;
}

function dockerState(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> | undefined {
    switch (args.type) {
        case "docker:index/remoteImage:RemoteImage":
            return { imageId: imageId(args.inputs.name as string) };
        case "docker:index/network:Network":
            return { name: `${args.name}-0a1b2c3` };
        default:
            return undefined;
    }
}

async function run(
    args: DockerWorkloadArgs,
    opts: (provider: docker.Provider) => pulumi.ComponentResourceOptions = () => ({}),
    preview = false,
) {
    let component: DockerWorkload | undefined;
    const result = await runProgram({
        program: () => {
            const provider = new docker.Provider("remote-engine", { host: "ssh://ops@build.example.org" });
            component = new DockerWorkload("web", args, opts(provider));
            return { containerNames: component.containerNames, generations: component.generations };
        },
        stack: "test",
        config: {},
        state: dockerState,
        preview,
    });
    return { result, component: component as DockerWorkload };
}

const CONTAINER = "docker:index/container:Container";
const ROLLOUT: DockerWorkloadArgs = {
    size: 5,
    release: V2,
    rollout: { previous: V1, members: 1 },
    update: { batch: 2 },
    health: { path: "/healthz", port: 8080 },
};

describe("DockerWorkload under mocks", () => {
    it("creates a provider, a network, one pull per image and one container per slot, all children of the component", async () => {
        const { result } = await run(ROLLOUT);
        const component = result.named("web", "herd:docker:Workload");
        expect(result.childrenOf(component).map((r) => `${r.type} ${r.name}`).sort()).to.deep.equal(
            [
                "pulumi:providers:docker web-provider",
                "docker:index/network:Network web-net",
                `docker:index/remoteImage:RemoteImage web-image-${generationOf(V1.image)}`,
                `docker:index/remoteImage:RemoteImage web-image-${generationOf(V2.image)}`,
                ...[0, 1, 2, 3, 4].map((slot) => `${CONTAINER} web-${slot}`),
            ].sort(),
        );
        const images = result.ofType("docker:index/remoteImage:RemoteImage").map((r) => r.inputs);
        expect(images).to.have.deep.members([
            { name: V1.image, keepLocally: true },
            { name: V2.image, keepLocally: true },
        ]);
    });

    it("names each container by slot and generation and runs the pulled image on the fleet network", async () => {
        const { result } = await run(ROLLOUT);
        const containers = [0, 1, 2, 3, 4].map((slot) => result.named(`web-${slot}`, CONTAINER));
        expect(namesMatch(containers.map((c) => c.inputs.name), [G2, G1, G1, G1, G1])).to.equal(true);
        expect(containers.map((c) => c.inputs.image)).to.deep.equal([imageId(V2.image), ...Array(4).fill(imageId(V1.image))]);
        expect(containers[0].inputs.networksAdvanced).to.deep.equal([{ name: "web-net-0a1b2c3", aliases: ["web", "web-0"] }]);
        expect((containers[3].inputs.labels as { label: string; value: string }[]).filter((l) => l.label.startsWith("herd.dev/"))).to.deep.equal([
            { label: "herd.dev/fleet", value: "web" },
            { label: "herd.dev/generation", value: G1 },
            { label: "herd.dev/slot", value: "3" },
        ]);
    });

    it("replaces, never updates: every release-defining property triggers a replacement, and so does the generation", async () => {
        const { result } = await run(ROLLOUT);
        for (const container of result.ofType(CONTAINER)) {
            expect(container.options.replaceOnChanges, container.name).to.have.members([...CONTAINER_RELEASE_PROPERTIES]);
            expect(container.options.replaceOnChanges).to.include.members(["image", "entrypoints", "command", "envs", "uploads", "ports", "name"]);
            expect(container.options.replacementTrigger, container.name).to.equal(container.name === "web-0" ? G2 : G1);
        }
    });

    it("creates before deleting, unless members hold host ports or delete-before-create is asked for", async () => {
        const plain = await run(ROLLOUT);
        expect(plain.result.ofType(CONTAINER).map((c) => c.options.deleteBeforeReplace)).to.deep.equal([false, false, false, false, false]);
        const ported = await run({ ...ROLLOUT, hostPort: 18080 });
        const containers = ported.result.ofType(CONTAINER);
        expect(containers.map((c) => c.options.deleteBeforeReplace)).to.deep.equal([true, true, true, true, true]);
        expect(containers.map((c) => (c.inputs.ports as { external: number }[])[0].external)).to.deep.equal([18080, 18081, 18082, 18083, 18084]);
        const ordered = await run({ ...ROLLOUT, update: { batch: 2, order: "delete-before-create" } });
        expect(ordered.result.ofType(CONTAINER).every((c) => c.options.deleteBeforeReplace)).to.equal(true);
        expect(
            plain.result.resources.filter((r) => r.type !== CONTAINER).every((r) => !r.options.deleteBeforeReplace),
        ).to.equal(true);
    });

    it("chains batches: every container of batch k+1 waits for every container of batch k, and for no other", async () => {
        const { result } = await run(ROLLOUT);
        const urn = (slot: number) => result.named(`web-${slot}`, CONTAINER).urn;
        const waitsFor = (slot: number) => result.named(`web-${slot}`, CONTAINER).options.dependsOn.filter((d) => d.includes(`${CONTAINER}::`));
        expect(waitsFor(0)).to.deep.equal([]);
        expect(waitsFor(1)).to.deep.equal([]);
        expect(waitsFor(2)).to.have.members([urn(0), urn(1)]);
        expect(waitsFor(3)).to.have.members([urn(0), urn(1)]);
        expect(waitsFor(4)).to.have.members([urn(2), urn(3)]);
    });

    it("runs every child on the component's own provider, for the default Docker socket or the given host", async () => {
        const local = await run(ROLLOUT);
        const own = local.result.named("web-provider", "pulumi:providers:docker");
        expect(own.inputs.host).to.equal("unix:///var/run/docker.sock");
        for (const child of local.result.childrenOf(local.result.named("web", "herd:docker:Workload")).filter((r) => r.custom && r !== own)) {
            expect(child.options.provider?.startsWith(`${own.urn}::`), child.name).to.equal(true);
        }
        const remote = await run({ ...ROLLOUT, host: "tcp://docker.internal:2376" });
        expect(remote.result.named("web-provider", "pulumi:providers:docker").inputs.host).to.equal("tcp://docker.internal:2376");
    });

    it("uses the provider given in opts instead of creating one", async () => {
        const { result } = await run(ROLLOUT, (provider) => ({ provider }));
        const given = result.named("remote-engine", "pulumi:providers:docker");
        expect(result.ofType("pulumi:providers:docker").map((r) => r.name)).to.deep.equal(["remote-engine"]);
        const children = result.resources.filter((r) => r.type.startsWith("docker:"));
        expect(children).to.have.length(1 + 2 + 5);
        for (const child of children) {
            expect(child.options.provider?.startsWith(`${given.urn}::`), child.name).to.equal(true);
        }
    });

    it("refuses a host together with a provider", async () => {
        const failure = await run({ ...ROLLOUT, host: "tcp://x:2376" }, (provider) => ({ providers: [provider] })).then(
            () => undefined,
            (err: Error & { resources: RecordedResource[] }) => err,
        );
        expect(failure?.message).to.equal(
            'DockerWorkload "web": host = "tcp://x:2376" and a Docker provider in opts both say where to run; give one',
        );
        expect(failure?.resources.filter((r) => r.type.startsWith("docker:"))).to.deep.equal([]);
    });

    it("exports container names and generations per slot", async () => {
        const { result, component } = await run(ROLLOUT);
        expect(result.outputs.generations).to.deep.equal([G2, G1, G1, G1, G1]);
        expect(result.outputs.containerNames).to.deep.equal(component.workload.members.map((m) => m.containerName));
        expect(namesMatch(result.outputs.containerNames as string[], [G2, G1, G1, G1, G1])).to.equal(true);
        expect(component.containers).to.have.length(5);
    });

    it("previews the same resources, with the same options, as it creates", async () => {
        const preview = (await run(ROLLOUT, () => ({}), true)).result;
        const update = (await run(ROLLOUT)).result;
        expect(preview.resources.map((r) => [r.urn, r.options.replacementTrigger, r.options.deleteBeforeReplace])).to.deep.equal(
            update.resources.map((r) => [r.urn, r.options.replacementTrigger, r.options.deleteBeforeReplace]),
        );
    });

    it("registers byte-identical inputs and options on every run", async () => {
        const first = await run({ ...ROLLOUT, hostPort: 18080 });
        const second = await run({ ...ROLLOUT, hostPort: 18080 });
        const snapshot = (resources: readonly RecordedResource[]) =>
            JSON.stringify(resources.map((r) => ({ urn: r.urn, inputs: r.inputs, options: r.options })));
        expect(snapshot(second.result.resources)).to.equal(snapshot(first.result.resources));
    });

    it("changes only the promoted slots when the rollout moves from 1 to 3 members", async () => {
        const before = await run(ROLLOUT);
        const after = await run({ ...ROLLOUT, rollout: { previous: V1, members: 3 } });
        const names = (r: typeof before) => r.result.ofType(CONTAINER).map((c) => c.inputs.name);
        const changed = names(before)
            .map((name, slot) => (name === names(after)[slot] ? undefined : slot))
            .filter((slot) => slot !== undefined);
        expect(changed).to.deep.equal([1, 2]);
    });
});

describe("dockerArgsFromConfig", () => {
    it("maps a validated fleet of the stack config to the workload's args", () => {
        const fleets = parseFleets(
            {
                web: {
                    backend: "docker",
                    size: 2,
                    release: { image: V2.image, port: 8080, env: { LOG_LEVEL: "debug" }, files: { "/etc/web.conf": "x" }, command: ["/web"], args: ["serve"] },
                    rollout: { previous: { image: V1.image, port: 8080 }, members: 1 },
                    update: { batch: 1, order: "delete-before-create" },
                    spread: "soft-anti-affinity",
                    health: { path: "/healthz", port: 8080 },
                    hostPort: 8000,
                },
            },
            "dev",
        );
        const fleet = fleets.web;
        if (fleet.backend !== "docker") {
            throw new Error("expected a docker fleet");
        }
        const args = dockerArgsFromConfig("web", fleet);
        expect(args).to.deep.equal({
            size: 2,
            release: { image: V2.image, command: ["/web"], args: ["serve"], env: { LOG_LEVEL: "debug" }, files: { "/etc/web.conf": "x" }, port: 8080 },
            rollout: { members: 1, previous: { image: V1.image, port: 8080 } },
            update: { batch: 1, order: "delete-before-create" },
            health: { path: "/healthz", port: 8080 },
            hostPort: 8000,
        });
        expect(resolveDockerWorkload("web", args).members.map((m) => m.hostPort)).to.deep.equal([8000, 8001]);
    });

    it("reports host-port rules with their full key paths", () => {
        const fleet = { backend: "docker" as const, size: 3, release: { image: "x" }, rollout: { previous: { image: "y", port: 80 }, members: 1 }, hostPort: 65534 };
        expect(dockerConfigProblems("web", fleet)).to.deep.equal([
            {
                path: ["herd:fleets", "web", "hostPort"],
                value: 65534,
                allowed: "a base port with hostPort + size - 1 ≤ 65535 (slot i publishes hostPort + i; 3 slots need up to 65536)",
            },
            { path: ["herd:fleets", "web", "release", "port"], value: undefined, allowed: "the container port that hostPort forwards to" },
        ]);
        expect(() => dockerArgsFromConfig("web", fleet)).to.throw(
            [
                "herd:fleets.web.hostPort = 65534: expected a base port with hostPort + size - 1 ≤ 65535 (slot i publishes hostPort + i; 3 slots need up to 65536)",
                "herd:fleets.web.release.port is missing: required, the container port that hostPort forwards to",
            ].join("\n"),
        );
        expect(dockerConfigProblems("web", { ...fleet, hostPort: undefined })).to.deep.equal([]);
    });
});
