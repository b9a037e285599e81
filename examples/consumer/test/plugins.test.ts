/**
 * The policy pack and the component package as `npm install pulumi-herd` ships them
 * (node_modules/pulumi-herd/dist/policy and dist/provider), started the way the Pulumi CLI starts
 * them: by plain Node.js (no tsx, no TypeScript), in their own folders, with every dependency
 * resolved from this project's node_modules.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import * as readline from "node:readline";
import { expect } from "chai";
import type { PackageSpec } from "@pulumi/pulumi/provider/experimental/schema";

const project = path.join(__dirname, "..");
const installed = path.join(project, "node_modules", "pulumi-herd");
/** What a user passes to `pulumi preview --policy-pack`. */
const PACK = path.join(installed, "dist", "policy");
/** What a user passes to `pulumi package add`. */
const PROVIDER = path.join(installed, "dist", "provider");
const version = (JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")) as { version: string }).version;

/** The environment of a plain Node.js process: without the loader this test runs under. */
function plainEnv(): NodeJS.ProcessEnv {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    return env;
}

const sdk = createRequire(require.resolve("@pulumi/pulumi/package.json", { paths: [project] }));
const grpc = sdk("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
const { AnalyzerClient } = sdk("./proto/analyzer_grpc_pb") as typeof import("@pulumi/pulumi/proto/analyzer_grpc_pb");
const { Empty } = sdk("google-protobuf/google/protobuf/empty_pb") as typeof import("google-protobuf/google/protobuf/empty_pb");

describe("the policy pack from the installed package (node_modules/pulumi-herd/dist/policy)", function () {
    this.timeout(60_000);
    let pack: ChildProcess | undefined;
    after(() => {
        if (pack?.pid !== undefined && pack.exitCode === null) {
            process.kill(pack.pid, "SIGTERM");
        }
    });

    it("is a pack folder: PulumiPolicy.yaml, a JavaScript entry, a package.json that installs nothing of its own", () => {
        expect(fs.readFileSync(path.join(PACK, "PulumiPolicy.yaml"), "utf8")).to.match(/^runtime: nodejs$/m);
        const manifest = JSON.parse(fs.readFileSync(path.join(PACK, "package.json"), "utf8")) as Record<string, unknown>;
        expect(manifest).to.include({ name: "herd-guardrails", version, main: "index.js" });
        expect(manifest).to.not.have.any.keys("dependencies", "devDependencies", "peerDependencies");
        expect(fs.existsSync(path.join(PACK, "index.js"))).to.equal(true);
    });

    it("starts under plain Node.js in its folder, as the CLI starts it, and serves its seven policies", async () => {
        // The CLI's policy-pack runner loads the pack's folder from there; the pack prints the port it serves on.
        pack = spawn(process.execPath, ["-e", "require(process.cwd())"], { cwd: PACK, env: plainEnv(), stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        pack.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        const port = await new Promise<string>((resolve, reject) => {
            readline.createInterface({ input: pack!.stdout! }).once("line", resolve);
            pack!.once("exit", (code) => reject(new Error(`the pack exited with code ${code} before serving:\n${stderr}`)));
        });
        expect(port).to.match(/^\d+$/);

        const client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        try {
            const info = await new Promise<import("@pulumi/pulumi/proto/analyzer_pb").AnalyzerInfo>((resolve, reject) =>
                client.getAnalyzerInfo(new Empty(), (err, response) => (err ? reject(err) : resolve(response))),
            );
            expect(info.getName()).to.equal("herd-guardrails");
            expect(info.getVersion()).to.equal(version);
            expect(info.getPoliciesList().map((policy) => policy.getName())).to.have.members([
                "herd-fleet-redundancy",
                "herd-health-checked",
                "no-admin-port-open-to-world",
                "containers-non-root-with-limits",
                "images-pinned",
                "first-wave-small",
                "protected-rollout",
            ]);
        } finally {
            client.close();
        }
    });
});

describe("the component package from the installed package (node_modules/pulumi-herd/dist/provider)", function () {
    this.timeout(180_000);

    it("is a plugin folder: PulumiPlugin.yaml, package.json named herd, the entry and the TypeScript the schema is derived from", () => {
        expect(fs.readFileSync(path.join(PROVIDER, "PulumiPlugin.yaml"), "utf8")).to.match(/^runtime: nodejs$/m);
        const manifest = JSON.parse(fs.readFileSync(path.join(PROVIDER, "package.json"), "utf8")) as Record<string, unknown>;
        expect(manifest).to.include({ name: "herd", version, main: "index.js" });
        expect(manifest).to.not.have.any.keys("dependencies", "devDependencies", "peerDependencies");
        for (const file of ["index.js", "index.ts", "tsconfig.json"]) {
            expect(fs.existsSync(path.join(PROVIDER, file)), file).to.equal(true);
        }
    });

    it("loads under plain Node.js and derives the package schema as the plugin host does", () => {
        // What `pulumi package add` and `pulumi package get-schema` have the Node.js plugin host do.
        const host = `
            const { ComponentProvider, getPulumiComponents } = require("@pulumi/pulumi/provider/experimental");
            const dir = ${JSON.stringify(PROVIDER)};
            const components = getPulumiComponents(require(dir));
            new ComponentProvider({ name: require(dir + "/package.json").name, dirname: dir, components })
                .getSchema()
                .then((schema) => process.stdout.write(schema), (err) => { console.error(err); process.exit(1); });
        `;
        const run = spawnSync(process.execPath, ["-e", host], { cwd: project, env: plainEnv(), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        expect(run.status, run.stderr).to.equal(0);
        const schema = JSON.parse(run.stdout) as PackageSpec;
        expect(schema.name).to.equal("herd");
        expect(schema.version).to.equal(version);
        expect(Object.keys(schema.resources).sort()).to.deep.equal(["herd:index:DockerWorkload", "herd:index:KubernetesWorkload", "herd:index:ServerGroup"]);
        expect(schema.resources["herd:index:ServerGroup"].requiredInputs).to.deep.equal(["release", "size"]);
        expect(Object.keys(schema.types)).to.include.members(["herd:index:ServerRelease", "herd:index:ContainerRelease", "herd:index:Spread"]);
    });
});
