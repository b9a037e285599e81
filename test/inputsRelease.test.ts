import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { DockerWorkload, resolveDockerWorkload } from "../components/docker";
import { fileKey, KubernetesWorkload, WIRED_CHECKSUM_ANNOTATION } from "../components/kubernetes";
import { planMembers, ServerGroup, ServerRelease } from "../components/openstack";
import { ContainerRelease, containerGeneration, deployTimePlaceholder } from "../components/release";
import { isSecret, ProgramRun, RecordedResource, runProgram } from "../components/testing";

/**
 * Env values, file contents and user data wired from other resources or given as secrets in
 * code: registered as they resolve, kept secret when secret, hashed into the generation as a
 * placeholder naming their place (so the generation is the same on every run and for every
 * value), and replacing the members when they change: Docker and OpenStack through
 * `replaceOnChanges`, Kubernetes through a checksum on the pod template.
 */

const IMAGE = "registry.example.org/api@sha256:" + "a".repeat(64);
const TOKEN = "pl41n-t0ken-7f3e";
const OTHER_TOKEN = "an0ther-t0ken-19c2";
const DB_ID = "db-4b1e9c";
const OTHER_DB_ID = "db-88aa03";

/** The release of the wired runs, as plain text, before Outputs were accepted: its generation is pinned below. */
const PLAIN: ContainerRelease = {
    image: IMAGE,
    port: 8080,
    env: { LOG_LEVEL: "info", TOKEN: "t0ken" },
    files: { "/etc/app/app.conf": "x = 1\n" },
};
/** `PLAIN`'s generation before env and files took Outputs. */
const PLAIN_GENERATION = "be16c3a7";

/** A release with `DB_HOST` wired to another resource's ID, and a secret env value and file. */
function wiredRelease(db: pulumi.Output<string>, token: string): ContainerRelease {
    return {
        image: IMAGE,
        port: 8080,
        env: { LOG_LEVEL: "info", DB_HOST: db, TOKEN: pulumi.secret(token) },
        files: { "/etc/app/app.conf": "x = 1\n", "/etc/app/key.pem": pulumi.secret(`-----KEY ${token}-----\n`) },
    };
}

/** The same release as herd plans it: each wired value a placeholder naming its place. */
const PLANNED: ContainerRelease = {
    image: IMAGE,
    port: 8080,
    env: { LOG_LEVEL: "info", DB_HOST: deployTimePlaceholder("env.DB_HOST"), TOKEN: deployTimePlaceholder("env.TOKEN") },
    files: { "/etc/app/app.conf": "x = 1\n", "/etc/app/key.pem": deployTimePlaceholder('files["/etc/app/key.pem"]') },
};

/** Runs `build` with a resource `db` whose ID is `dbId` to wire from. */
function withDb(dbId: string, build: (db: pulumi.Output<string>) => unknown): Promise<ProgramRun> {
    return runProgram({
        program: () => {
            const docker = require("@pulumi/docker") as typeof import("@pulumi/docker");
            const db = new docker.Network("db", { driver: "bridge" });
            return build(db.id) ?? {};
        },
        stack: "test",
        config: {},
        id: (args) => (args.name === "db" ? dbId : undefined),
    });
}

/**
 * Why a deployment fails: a value checked once it resolved fails the registration of the
 * resources it reaches, which the Pulumi runtime reports as the program's error (under mocks, an
 * unhandled rejection).
 */
async function deploymentFailure(run: () => Promise<unknown>): Promise<string> {
    const errors: string[] = [];
    const listener = (reason: unknown) => errors.push(reason instanceof Error ? reason.message : String(reason));
    process.on("unhandledRejection", listener);
    try {
        await run().catch(listener);
        await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
        process.off("unhandledRejection", listener);
    }
    expect(errors, "the deployment's errors").to.not.deep.equal([]);
    return errors.join("\n");
}

describe("container release values wired from other resources and secrets: the generation", () => {
    it("leaves a release of plain strings as it was: the generation pinned before Outputs were accepted", () => {
        expect(containerGeneration(PLAIN)).to.equal(PLAIN_GENERATION);
    });

    it("hashes each wired value as a placeholder naming its place, whatever it resolves to", () => {
        const a = containerGeneration(wiredRelease(pulumi.output(DB_ID), TOKEN));
        const b = containerGeneration(wiredRelease(pulumi.output(OTHER_DB_ID), OTHER_TOKEN));
        expect(a).to.equal(b).and.to.equal(containerGeneration(PLANNED));
        expect(a).to.not.equal(containerGeneration({ ...PLANNED, env: { ...PLANNED.env, DB_HOST: DB_ID } }));
    });

    it("takes a wired value where a plain one was refused, and still refuses what is neither text nor an Output", () => {
        const release = { image: IMAGE, env: { PORT: 8080 as unknown as string, TOKEN: pulumi.secret(TOKEN) } };
        expect(() => resolveDockerWorkload("api", { size: 1, release })).to.throw(
            "  - release.env.PORT is not a string: expected text, or an Output of text (a value wired from another resource, a secret)",
        );
        expect(() => resolveDockerWorkload("api", { size: 1, release: { image: IMAGE, env: { TOKEN: pulumi.secret(TOKEN) } } })).to.not.throw();
    });
});

describe("container release values wired from other resources and secrets (Kubernetes)", () => {
    const SECRET = "kubernetes:core/v1:Secret";
    const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
    const kubernetes = (dbId: string, token: string, release = (db: pulumi.Output<string>) => wiredRelease(db, token)) =>
        withDb(dbId, (db) => ({ generations: new KubernetesWorkload("api", { size: 2, release: release(db) }).generations }));
    const annotationsOf = (run: ProgramRun) =>
        (run.named("api-stable", "kubernetes:apps/v1:Deployment").inputs.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata
            .annotations ?? {};

    it("puts every wired value in the role's Secret, as a secret, with the values they resolved to; plain ones stay in the ConfigMap", async () => {
        const run = await kubernetes(DB_ID, TOKEN);
        const env = run.named("api-stable-secret-env", SECRET).inputs.stringData;
        const files = run.named("api-stable-secret-files", SECRET).inputs.stringData;
        expect(isSecret(env)).to.equal(true);
        expect(isSecret(files)).to.equal(true);
        expect((env as { value: unknown }).value).to.deep.equal({ DB_HOST: DB_ID, TOKEN });
        expect((files as { value: unknown }).value).to.deep.equal({ [fileKey("/etc/app/key.pem")]: `-----KEY ${TOKEN}-----\n` });
        expect(run.named("api-stable-env", CONFIG_MAP).inputs.data).to.deep.equal({ LOG_LEVEL: "info" });
        expect(run.named("api-stable-files", CONFIG_MAP).inputs.data).to.deep.equal({ [fileKey("/etc/app/app.conf")]: "x = 1\n" });
        expect(run.plainText(TOKEN)).to.deep.equal([]);
        expect(run.named("api-stable-secret-env", SECRET).options.dependsOn).to.include(run.named("db").urn);
    });

    it("keeps the generation, names and labels on every value, and rolls the pods through a checksum on the pod template when a value changes", async () => {
        const first = await kubernetes(DB_ID, TOKEN);
        const again = await kubernetes(DB_ID, TOKEN);
        const token = await kubernetes(DB_ID, OTHER_TOKEN);
        const db = await kubernetes(OTHER_DB_ID, TOKEN);
        expect(first.outputs.generations).to.deep.equal({ stable: containerGeneration(PLANNED) });
        for (const run of [again, token, db]) {
            expect(run.outputs.generations).to.deep.equal(first.outputs.generations);
            expect(run.resources.map((r) => r.urn)).to.deep.equal(first.resources.map((r) => r.urn));
        }
        const checksum = annotationsOf(first)[WIRED_CHECKSUM_ANNOTATION];
        expect(checksum).to.match(/^[0-9a-f]{16}$/);
        expect(annotationsOf(again)[WIRED_CHECKSUM_ANNOTATION]).to.equal(checksum);
        expect(annotationsOf(token)[WIRED_CHECKSUM_ANNOTATION]).to.not.equal(checksum);
        expect(annotationsOf(db)[WIRED_CHECKSUM_ANNOTATION]).to.not.equal(checksum);
        // A hash, not a value: the Deployment's spec is not hidden whole, and shows neither value.
        const deployment = first.named("api-stable", "kubernetes:apps/v1:Deployment");
        expect(isSecret(deployment.inputs.spec)).to.equal(false);
        expect(JSON.stringify(deployment.inputs)).to.not.contain(TOKEN).and.not.contain(DB_ID);
        expect(JSON.stringify(annotationsOf(first))).to.not.contain(TOKEN);
    });

    it("leaves a release of plain strings as it was: no checksum, the pinned generation", async () => {
        const run = await kubernetes(DB_ID, TOKEN, () => PLAIN);
        expect(run.outputs.generations).to.deep.equal({ stable: PLAIN_GENERATION });
        expect(annotationsOf(run)).to.not.have.property(WIRED_CHECKSUM_ANNOTATION);
    });

    it("fails the deployment when a wired env value resolves to text no process can take, naming the fleet and key, not the value", async () => {
        const message = await deploymentFailure(() => kubernetes(DB_ID, TOKEN, (db) => ({ image: IMAGE, env: { DB_HOST: db.apply((id) => `${id}\u0000${TOKEN}`) } })));
        expect(message).to.contain('fleet "api": values wired from other resources, checked once they resolved (the values are not shown):');
        expect(message).to.contain("  - release.env.DB_HOST: expected text without a NUL character, which no process can be given");
        expect(message).to.not.contain(TOKEN).and.not.contain(DB_ID);
    });
});

describe("container release values wired from other resources and secrets (Docker)", () => {
    const CONTAINER = "docker:index/container:Container";
    const containers = (run: ProgramRun) => run.ofType(CONTAINER).sort((a, b) => a.name.localeCompare(b.name));
    const dockerRun = (dbId: string, token: string, release = (db: pulumi.Output<string>) => wiredRelease(db, token)) =>
        withDb(dbId, (db) => {
            const fleet = new DockerWorkload("api", { size: 2, release: release(db) });
            return { generations: fleet.generations, containerNames: fleet.containerNames };
        });

    it("registers the resolved values in the containers' envs and uploads, as secrets", async () => {
        const run = await dockerRun(DB_ID, TOKEN);
        expect(containers(run)).to.have.length(2);
        for (const container of containers(run)) {
            expect(isSecret(container.inputs.envs), container.name).to.equal(true);
            expect(isSecret(container.inputs.uploads), container.name).to.equal(true);
            expect((container.inputs.envs as { value: unknown }).value).to.deep.equal([`DB_HOST=${DB_ID}`, "LOG_LEVEL=info", `TOKEN=${TOKEN}`]);
            expect((container.inputs.uploads as { value: { file: string; content: string }[] }).value.map((u) => [u.file, u.content])).to.deep.equal([
                ["/etc/app/app.conf", "x = 1\n"],
                ["/etc/app/key.pem", `-----KEY ${TOKEN}-----\n`],
            ]);
            expect(container.options.dependsOn).to.include(run.named("db").urn);
        }
        expect(run.plainText(TOKEN)).to.deep.equal([]);
    });

    it("keeps the generation and names on every value, and replaces the containers, delete-before-create, when a value changes", async () => {
        const first = await dockerRun(DB_ID, TOKEN);
        const moved = await dockerRun(OTHER_DB_ID, OTHER_TOKEN);
        const generation = containerGeneration(PLANNED);
        expect(first.outputs.generations).to.deep.equal([generation, generation]);
        expect(moved.outputs).to.deep.equal(first.outputs);
        const [a, b] = [containers(first)[0], containers(moved)[0]];
        expect(b.inputs.name).to.equal(a.inputs.name);
        expect(b.inputs.labels).to.deep.equal(a.inputs.labels);
        expect(b.options.replacementTrigger).to.equal(a.options.replacementTrigger).and.to.equal(generation);
        // The engine replaces the container because a property in replaceOnChanges changed.
        expect(a.options.replaceOnChanges).to.include.members(["envs", "uploads"]);
        expect((b.inputs.envs as { value: unknown }).value).to.not.deep.equal((a.inputs.envs as { value: unknown }).value);
        expect((b.inputs.uploads as { value: unknown }).value).to.not.deep.equal((a.inputs.uploads as { value: unknown }).value);
        // The name stays, so the old container must go before the new one takes it.
        expect(a.options.deleteBeforeReplace).to.equal(true);
        expect(JSON.stringify([a.inputs.name, a.inputs.labels])).to.not.contain(TOKEN).and.not.contain(DB_ID);
    });

    it("leaves a release of plain strings as it was: the pinned generation, create-before-delete", async () => {
        const run = await dockerRun(DB_ID, TOKEN, () => PLAIN);
        expect(run.outputs.generations).to.deep.equal([PLAIN_GENERATION, PLAIN_GENERATION]);
        for (const container of containers(run)) {
            expect(container.options.deleteBeforeReplace).to.equal(false);
            expect(container.inputs.envs).to.deep.equal(["LOG_LEVEL=info", "TOKEN=t0ken"]);
        }
    });

    it("refuses create-before-delete for a fleet holding a wired value, before anything is registered", () => {
        expect(() =>
            resolveDockerWorkload("api", { size: 1, release: wiredRelease(pulumi.output(DB_ID), TOKEN), update: { order: "create-before-delete" } }),
        ).to.throw(
            '  - update.order = "create-before-delete": expected delete-before-create (or no order) for a fleet whose env or files hold an Output: a new value of it recreates containers under the names they have, and a new container cannot take the name of one that still runs',
        );
    });

    it("fails the deployment when wired files grow the release past what a ConfigMap holds, naming the fleet and key", async () => {
        const big = "x".repeat(1024 * 1024);
        const message = await deploymentFailure(() => dockerRun(DB_ID, TOKEN, (db) => ({ image: IMAGE, files: { "/etc/app/big": db.apply((id) => id + big) } })));
        expect(message).to.contain('fleet "api": values wired from other resources, checked once they resolved');
        expect(message).to.match(/ {2}- release\.env and release\.files: expected at most 1048576 bytes of env and files together .*; this release has 1048\d{3}/);
        expect(message).to.not.contain(DB_ID);
    });
});

describe("user data wired from another resource or a secret (OpenStack)", () => {
    const INSTANCE = "openstack:compute/instance:Instance";
    const release: ServerRelease = { image: "debian-12-web-1", flavor: "b3-8", networks: ["ext-net"], keyPair: "ops" };
    const cloudConfig = (word: string) => `#cloud-config\nruncmd:\n  - [echo, ${word}]\n`;
    const slotOf = (r: RecordedResource) => Number(r.name.split("-").pop());
    const instances = (run: ProgramRun) => run.ofType(INSTANCE).sort((a, b) => slotOf(a) - slotOf(b));
    const serverGroup = (dbId: string, userData: (db: pulumi.Output<string>) => pulumi.Input<string>) =>
        withDb(dbId, (db) => ({ generations: new ServerGroup("web", { size: 2, release: { ...release, userData: userData(db) } }).generations }));
    const userDataOf = (member: RecordedResource) => (isSecret(member.inputs.userData) ? member.inputs.userData.value : member.inputs.userData) as string;

    it("leaves plain user data as it was: the generation pinned before user data took Outputs", () => {
        const plain = { ...release, userData: "#cloud-config\npackages: [nginx]\n" };
        expect(planMembers("web", { size: 1, release: plain, securityGroupName: "herd-web" })[0].generation).to.equal("854dcffa");
    });

    it("renders wired user data once it resolves, with herd's additions and the release identity, and keeps a secret secret", async () => {
        const run = await serverGroup(DB_ID, () => pulumi.secret(cloudConfig(TOKEN)));
        const [generation] = run.outputs.generations as string[];
        for (const member of instances(run)) {
            expect(isSecret(member.inputs.userData), member.name).to.equal(true);
            const userData = userDataOf(member);
            expect(userData).to.match(/^#cloud-config\n/);
            expect(userData).to.contain(`echo`).and.contain(TOKEN);
            expect(userData).to.contain("prometheus-node-exporter");
            expect(userData).to.contain(`herd_release_info{fleet="web",generation="${generation}"} 1`);
            expect(member.inputs.name).to.equal(`web-${slotOf(member)}-${generation}`);
        }
        expect(run.plainText(TOKEN)).to.deep.equal([]);
    });

    it("keeps the generation on every text, and replaces the members through replaceOnChanges on userData when it changes", async () => {
        const wired = (dbId: string) => serverGroup(dbId, (db) => db.apply(cloudConfig));
        const first = await wired(DB_ID);
        const moved = await wired(OTHER_DB_ID);
        expect(moved.outputs.generations).to.deep.equal(first.outputs.generations);
        const [a, b] = [instances(first)[0], instances(moved)[0]];
        expect(b.options.replacementTrigger).to.equal(a.options.replacementTrigger);
        expect(b.inputs.name).to.equal(a.inputs.name);
        expect(a.options.replaceOnChanges).to.include("userData");
        expect(userDataOf(a)).to.contain(DB_ID).and.not.contain(OTHER_DB_ID);
        expect(userDataOf(b)).to.contain(OTHER_DB_ID);
        expect(a.options.dependsOn).to.include(first.named("db").urn);
        // The generation names the place of the text; herd's additions (probes) still count.
        const planned = planMembers("web", { size: 1, release: { ...release, userData: pulumi.output(cloudConfig("anything")) }, securityGroupName: "herd-web" })[0];
        expect(a.options.replacementTrigger).to.equal(planned.generation);
        expect(planned.userData).to.contain(`# ${deployTimePlaceholder("userData")}`);
        const probes = [{ name: "crashes", script: "#!/bin/sh\necho 1\n", every: "5m" }];
        expect(
            planMembers("web", { size: 1, release: { ...release, userData: pulumi.output(cloudConfig("anything")) }, securityGroupName: "herd-web", probes })[0].generation,
        ).to.not.equal(planned.generation);
    });

    it("fails the deployment when wired user data is no cloud-config herd can add to, or grows past what Nova takes, naming the fleet and key, not the text", async () => {
        const notCloudConfig = await deploymentFailure(() => serverGroup(DB_ID, () => pulumi.secret(`#!/bin/sh\necho ${TOKEN}\n`)));
        expect(notCloudConfig).to.contain(
            'fleet "web": release.userData (wired from another resource, checked once it resolved) must start with a "#cloud-config" line; its first line is something else (9 characters)',
        );
        expect(notCloudConfig).to.not.contain(TOKEN);
        const badShape = await deploymentFailure(() => serverGroup(DB_ID, () => pulumi.secret("#cloud-config\npackages: nginx\n")));
        expect(badShape).to.contain('fleet "web": release.userData (wired from another resource, checked once it resolved) is not a cloud-config cloud-init takes: "packages" must be a list');
        const huge = await deploymentFailure(() => serverGroup(DB_ID, () => pulumi.secret(`#cloud-config\nruncmd:\n  - [echo, ${"x".repeat(50_000)}]\n`)));
        expect(huge).to.match(/fleet "web": release\.userData \(wired from another resource, checked once it resolved\): \d+ bytes once base64-encoded with herd's additions; Nova takes at most 65535/);
    });
});
