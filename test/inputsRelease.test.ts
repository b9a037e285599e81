import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { planMembers, ServerGroup, ServerRelease } from "../components/openstack";
import { deployTimePlaceholder } from "../components/release";
import { isSecret, ProgramRun, RecordedResource, runProgram } from "../components/testing";

/**
 * User data wired from other resources or given as a secret in code: registered as it resolves,
 * kept secret when secret, hashed into the generation as a placeholder naming its place (so the
 * generation is the same on every run and for every value), and replacing the members through
 * `replaceOnChanges` when it changes.
 */

const TOKEN = "pl41n-t0ken-7f3e";
const DB_ID = "db-4b1e9c";
const OTHER_DB_ID = "db-88aa03";

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
