import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultAlerts, parseFleets, planMembers, resolveFleets, ruleFile } from "../../components";

/**
 * The built package carries zod and yaml as one file each, and its root as one file
 * (`scripts/bundle.ts`). These tests run the package as a user's program loads it, with plain
 * Node.js, and hold it to the sources: the same stack-config problems in the same words, the same
 * rule-file bytes, neither zod's nor yaml's own modules loaded, the root's names for CommonJS and
 * ES modules alike, and one fleet registry in a process that loads the root and the test kit.
 */
const ROOT = path.resolve(__dirname, "..", "..");
const DIGEST = `sha256:${"a".repeat(64)}`;

/** Stack configs with every kind of problem the schemas report: type, range, enum, union, strict keys, a backend's own keys. */
const BAD_CONFIGS: Record<string, unknown> = {
    "unknown key and a size below 1": { web: { backend: "openstack", szie: 3, size: 0, release: { image: "img", flavor: "b3-8", network: "net" } } },
    "wrong types": { web: { backend: "openstack", size: "3", release: { image: 7, flavor: ["b3-8"], network: { id: 1 } }, spread: true } },
    "a value outside an enum": { web: { backend: "kubernetes", namespace: "web", size: 2, spread: "everywhere", release: { image: `nginx@${DIGEST}` } } },
    "a bad health check and duration": { web: { backend: "docker", size: 1, release: { image: `nginx@${DIGEST}`, port: 8080 }, health: { path: "healthz", port: 70000 }, alerts: { memberDownFor: "five minutes" } } },
    "no backend, then an unknown one": { a: { size: 1 }, b: { backend: "lambda", size: 1 } },
    "not a map": [1, 2, 3],
};

/** Runs `script` with plain Node.js in the repository: the package as a program loads it, no tsx. */
function node(script: string, moduleType: "commonjs" | "module" = "commonjs"): string {
    const result = spawnSync(process.execPath, ["--input-type", moduleType, "-e", script], { cwd: ROOT, encoding: "utf8" });
    expect(result.status, result.stderr).to.equal(0);
    return result.stdout;
}

function problemsFrom(parse: (raw: unknown, stack: string) => unknown, raw: unknown): string {
    try {
        parse(raw, "dev");
    } catch (err) {
        return (err as Error).message;
    }
    return "accepted";
}

describe("the built package's bundled zod and yaml", () => {
    before(function () {
        for (const file of ["dist/index.js", "dist/vendor/zod.js", "dist/vendor/yaml.js"]) {
            if (!fs.existsSync(path.join(ROOT, file))) {
                throw new Error(`${file} is missing: run npm run build first`);
            }
        }
    });

    it("are one file each, loaded instead of zod's and yaml's modules when a program checks its stack config and writes its rules", () => {
        const out = node(`
            const fromPackage = (name) => Object.keys(require.cache).filter((file) => file.includes("/node_modules/" + name + "/"));
            const herd = require("./dist/index.js");
            herd.parseFleets({ web: { backend: "openstack", size: 2, release: { image: "img", flavor: "b3-8", network: "net" } } }, "dev");
            herd.ruleFile([herd.defaultAlerts({ stack: "dev", fleet: "web", size: 2, minHealthy: 1 })]);
            const vendored = Object.keys(require.cache).filter((file) => file.includes("/dist/vendor/")).map((file) => file.slice(file.indexOf("dist/")));
            console.log(JSON.stringify({ zod: fromPackage("zod"), yaml: fromPackage("yaml"), vendored: vendored.sort() }));
        `);
        expect(JSON.parse(out)).to.deep.equal({ zod: [], yaml: [], vendored: ["dist/vendor/yaml.js", "dist/vendor/zod.js"] });
    });

    it("report every bad stack config in the words the sources use", () => {
        const out = node(`
            const { parseFleets } = require("./dist/index.js");
            const configs = ${JSON.stringify(BAD_CONFIGS)};
            const messages = {};
            for (const [name, raw] of Object.entries(configs)) {
                try { parseFleets(raw, "dev"); messages[name] = "accepted"; } catch (err) { messages[name] = err.message; }
            }
            console.log(JSON.stringify(messages));
        `);
        const built = JSON.parse(out) as Record<string, string>;
        for (const [name, raw] of Object.entries(BAD_CONFIGS)) {
            const expected = problemsFrom(parseFleets, raw);
            expect(expected, name).to.not.equal("accepted");
            expect(built[name], name).to.equal(expected);
        }
        expect(built["wrong types"]).to.include('herd:fleets.web.release.flavor = ["b3-8"]: expected a flavor name or ID');
    });

    it("render the same user data, byte for byte, and so the same generations: an upgrade of the package replaces no server", () => {
        // The prod stack's web fleet, its user data read from cloud-init/, as a program plans its members.
        const raw = { web: { backend: "openstack", size: 3, release: { image: "img", flavor: "b3-8", network: "net", userData: "cloud-init/web.yaml" }, probes: {} } };
        const plan = (herd: { resolveFleets: typeof resolveFleets; planMembers: typeof planMembers }) => {
            const [fleet] = herd.resolveFleets(raw, { stack: "prod", projectDir: ROOT });
            if (fleet.backend !== "openstack") {
                throw new Error("the fleet must be an OpenStack fleet");
            }
            return herd.planMembers("web", { ...fleet.args, securityGroupName: "herd-web" }).map((member) => ({ generation: member.generation, userData: member.userData }));
        };
        const out = node(`
            const herd = require("./dist/index.js");
            const plan = ${plan.toString()};
            const raw = ${JSON.stringify(raw)};
            const ROOT = process.cwd();
            console.log(JSON.stringify(plan(herd)));
        `);
        const fromSources = plan({ resolveFleets, planMembers });
        expect(fromSources[0].userData).to.match(/^#cloud-config\n/);
        expect(JSON.parse(out)).to.deep.equal(fromSources);
    });

    it("write the same rule file, byte for byte", () => {
        const input = { stack: "dev", fleet: "web", size: 10, minHealthy: 7, memberDownFor: "2m" };
        const out = node(`
            const herd = require("./dist/index.js");
            process.stdout.write(herd.ruleFile([herd.defaultAlerts(${JSON.stringify(input)})]));
        `);
        expect(out).to.equal(ruleFile([defaultAlerts(input)]));
        expect(out).to.match(/^groups:\n/);
    });
});

describe("the built package's root, one file", () => {
    /** herd's own files a script loaded from dist/, in load order. */
    const LOADED_FROM_DIST = `Object.keys(require.cache).filter((file) => file.startsWith(${JSON.stringify(path.join(ROOT, "dist") + path.sep)})).map((file) => file.slice(${JSON.stringify(ROOT.length + 1)}))`;

    it("is all of herd a program imports: zod and yaml load from their own files with their first use", () => {
        const out = node(`
            const herd = require("./dist/index.js");
            const imported = ${LOADED_FROM_DIST};
            herd.parseFleets({ web: { backend: "openstack", size: 2, release: { image: "img", flavor: "b3-8", network: "net" } } }, "dev");
            console.log(JSON.stringify({ imported, checked: ${LOADED_FROM_DIST} }));
        `);
        expect(JSON.parse(out)).to.deep.equal({ imported: ["dist/index.js"], checked: ["dist/index.js", "dist/vendor/zod.js"] });
    });

    it("gives an ES module the same names as a CommonJS one", () => {
        const commonjs = JSON.parse(node(`console.log(JSON.stringify(Object.keys(require("./dist/index.js")).sort()))`)) as string[];
        const esm = JSON.parse(
            node(`import * as herd from ${JSON.stringify(path.join(ROOT, "dist", "index.js"))}; console.log(JSON.stringify(Object.keys(herd).filter((name) => name !== "default").sort()));`, "module"),
        ) as string[];
        expect(commonjs).to.include.members(["buildFleet", "stackProgram", "FLEET_BACKENDS", "ServerGroup"]);
        expect(esm).to.deep.equal(commonjs);
    });

    it("shares its fleet registry with the test kit: a fleet built by the root gets the mock addresses the registry gives", () => {
        const out = node(`
            const herd = require("./dist/index.js");
            const { runProgram } = require("./dist/testing/index.js");
            runProgram({
                program: () => {
                    const fleet = herd.buildFleet("web", { backend: "openstack", size: 2, release: { image: "img", flavor: "b3-8", networks: ["net"] } });
                    return { servers: fleet.workload.servers };
                },
                config: {},
            }).then((run) => {
                const registries = ${LOADED_FROM_DIST}.filter((file) => file.startsWith("dist/fleet/"));
                console.log(JSON.stringify({ registries, servers: run.outputs.servers.map((server) => server.ip) }));
            }, (err) => { console.error(err); process.exit(1); });
        `);
        const { registries, servers } = JSON.parse(out) as { registries: string[]; servers: string[] };
        expect(registries).to.deep.equal([]);
        expect(servers).to.have.length(2);
        for (const ip of servers) {
            expect(ip).to.match(/^10\.20\.\d+\.\d+$/);
        }
    });
});
