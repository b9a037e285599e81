import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import fc from "fast-check";
import { FleetChange, peakOf, peakProblems, SlotServer } from "../components/openstack/peak";
import { openstackEnvironment } from "../components/openstack/cloudsYaml";
import { cloudEnvironment, fleetChange, preflight } from "../components/openstack/preflight";

const FLAVORS: Record<string, { vcpus: number; ramMB: number }> = { small: { vcpus: 1, ramMB: 2048 }, large: { vcpus: 4, ramMB: 8192 } };
const flavors = (name: string) => FLAVORS[name];

/** `size` servers of one generation and flavor, slots `0 … size-1`. */
const servers = (size: number, generation: string, flavor = "small", from = 0): SlotServer[] =>
    Array.from({ length: size }, (_, i) => ({ slot: from + i, generation, flavor }));

/** A fleet whose slots `0 … moved-1` move from generation `old` to `new`. */
function change(size: number, moved: number, options: Partial<FleetChange> = {}): FleetChange {
    return {
        fleet: "web",
        before: servers(size, "old"),
        after: [...servers(moved, "new"), ...servers(size - moved, "old", "small", moved)],
        batch: 2,
        createBeforeDelete: true,
        antiAffinity: false,
        ...options,
    };
}

describe("the peak of a change of OpenStack fleets", () => {
    it("a plain pulumi up holds every replaced member until its end; herd apply one batch extra", () => {
        const web = change(4, 4);
        expect(peakOf([web], "up", flavors)).to.include({ servers: 8, vcpus: 8, ramMB: 16384 });
        expect(peakOf([web], "batches", flavors)).to.include({ servers: 6, vcpus: 6, ramMB: 12288 });
        expect(peakOf([web], "batches", flavors).now).to.deep.equal({ servers: 4, vcpus: 4, ramMB: 8192 });
    });

    it("delete-before-create never holds more than the fleet, either way", () => {
        const web = change(4, 4, { createBeforeDelete: false });
        expect(peakOf([web], "up", flavors).servers).to.equal(4);
        expect(peakOf([web], "batches", flavors).servers).to.equal(4);
    });

    it("prod's web (12 members, anti-affinity, batch 3) needs 13 hosts for its canary and 21 for the wave to 10 under pulumi up, 15 under herd apply", () => {
        const canary = { ...change(12, 1, { batch: 3, antiAffinity: true }) };
        expect(peakOf([canary], "up", flavors)).to.include({ hosts: 13, hostsFleet: "web" });
        expect(peakOf([canary], "batches", flavors).hosts).to.equal(13);
        const tenBefore = [...servers(1, "new"), ...servers(11, "old", "small", 1)];
        const wave = { ...change(12, 10, { batch: 3, antiAffinity: true }), before: tenBefore };
        expect(peakOf([wave], "up", flavors).hosts).to.equal(21);
        expect(peakOf([wave], "batches", flavors).hosts).to.equal(15);
    });

    it("counts each server at its own flavor: old members at the old one, replacements at the new one", () => {
        const resized: FleetChange = { ...change(4, 4), after: servers(4, "new", "large") };
        expect(peakOf([resized], "up", flavors)).to.include({ servers: 8, vcpus: 4 + 16, ramMB: 4 * 2048 + 4 * 8192 });
        // Batch 1: 2 new large + 2 old small + 2 old small; batch 2: 2 large done, 2 large new, 2 small old.
        expect(peakOf([resized], "batches", flavors)).to.include({ servers: 6, vcpus: 4 * 4 + 2 });
    });

    it("leaves vCPUs and RAM out when a flavor's size is unknown", () => {
        const peak = peakOf([{ ...change(4, 4), after: servers(4, "new", "unheard-of") }], "up", flavors);
        expect(peak.servers).to.equal(8);
        expect(peak).not.to.have.property("vcpus");
        expect(peakProblems(peak, { source: "test", cores: { max: 1 } })).to.deep.equal([]);
    });

    it("adds fleets up under pulumi up, and moves them one at a time under herd apply", () => {
        const web = change(4, 4);
        const db = { ...change(2, 2, { batch: 1 }), fleet: "db" };
        expect(peakOf([web, db], "up", flavors).servers).to.equal(8 + 4);
        // web moving (4 + 2) while db waits (2), then db moving (2 + 1) beside web done (4).
        expect(peakOf([web, db], "batches", flavors).servers).to.equal(8);
        expect(peakOf([web, db], "batches", flavors).fleetServers).to.deep.equal({ web: 6, db: 3 });
    });

    it("creates new slots and deletes removed ones in the final up", () => {
        const grow: FleetChange = { ...change(4, 0), after: servers(6, "old") };
        expect(peakOf([grow], "up", flavors).servers).to.equal(6);
        expect(peakOf([grow], "batches", flavors).servers).to.equal(6);
        const shrink: FleetChange = { ...change(4, 0), after: servers(2, "new") };
        expect(peakOf([shrink], "up", flavors).servers).to.equal(6);
        expect(peakOf([shrink], "batches", flavors).servers).to.equal(6);
    });

    it("holds no change at what the fleet has", () => {
        expect(peakOf([change(4, 0)], "up", flavors).servers).to.equal(4);
        expect(peakOf([], "batches", flavors)).to.include({ servers: 0, hosts: 0 });
    });

    it("is never below what the fleet has, never above every old and new server, and herd apply never needs more than pulumi up", () => {
        const arbitrary = fc.record({
            size: fc.nat({ max: 30 }),
            moved: fc.nat({ max: 30 }),
            batch: fc.integer({ min: 1, max: 10 }),
            createBeforeDelete: fc.boolean(),
        });
        fc.assert(
            fc.property(arbitrary, ({ size, moved, batch, createBeforeDelete }) => {
                const fleet = change(size, Math.min(size, moved), { batch, createBeforeDelete });
                const up = peakOf([fleet], "up", flavors).servers;
                const batches = peakOf([fleet], "batches", flavors).servers;
                expect(batches).to.be.at.least(size).and.at.most(up);
                expect(up).to.be.at.most(size + Math.min(size, moved));
                if (createBeforeDelete) {
                    expect(batches).to.equal(size + Math.min(batch, Math.min(size, moved)));
                }
            }),
        );
    });
});

describe("the preflight of a change against the project's limits", () => {
    const web = change(4, 4);

    it("refuses a plain pulumi up that the instance quota cannot hold, with the numbers", () => {
        const problems = peakProblems(peakOf([web], "up", flavors), { source: "Nova's GET /limits", instances: { max: 6, used: 4 } });
        expect(problems.map((p) => p.message)).to.deep.equal([
            "a plain pulumi up needs 8 servers at its peak (the fleets hold 4 now), the instances quota is 6 (Nova's GET /limits): room for 6",
        ]);
        expect(peakProblems(peakOf([web], "batches", flavors), { source: "Nova's GET /limits", instances: { max: 6, used: 4 } })).to.deep.equal([]);
    });

    it("counts the project's other servers against the room", () => {
        const [problem] = peakProblems(peakOf([web], "batches", flavors), { source: "Nova's GET /limits", instances: { max: 6, used: 5 } });
        expect(problem).to.include({ limit: "instances", needed: 6, room: 5 });
        expect(problem.message).to.equal(
            "herd apply (one batch at a time) needs 6 servers at its peak (the fleets hold 4 now), the instances quota is 6 with 1 held by other servers of the project (Nova's GET /limits): room for 5",
        );
    });

    it("refuses vCPUs and RAM beyond the quota, and hosts beyond those declared for anti-affinity", () => {
        const spread = { ...web, antiAffinity: true };
        const problems = peakProblems(peakOf([spread], "up", flavors), { source: "herd:openstack.quota", cores: { max: 6 }, ramMB: { max: 65536 }, hosts: 6 });
        expect(problems.map((p) => [p.limit, p.needed, p.room])).to.deep.equal([
            ["cores", 8, 6],
            ["hosts", 8, 6],
        ]);
        expect(problems[1].message).to.equal(
            "a plain pulumi up puts 8 servers of fleet web in its anti-affinity server group at once, one per compute host: the cloud has 6 (herd:openstack.quota)",
        );
    });

    it("ignores Nova's unlimited (-1)", () => {
        expect(peakProblems(peakOf([web], "up", flavors), { source: "Nova's GET /limits", instances: { max: -1, used: 4 } })).to.deep.equal([]);
    });

    it("prefers Nova's limits and flavors to the declared ones", () => {
        const args = { size: 2, release: { image: "img", flavor: "small", networks: ["net"] }, update: { batch: 1 } } as const;
        const fleet = fleetChange("db", args, servers(2, "old"));
        const declared = { quota: { instances: 100 }, flavors: { small: { vcpus: 1, ramMB: 1 } } };
        expect(preflight([fleet], "up", declared).problems).to.deep.equal([]);
        const cloud = {
            limits: { maxTotalInstances: 3, totalInstancesUsed: 2, maxTotalCores: -1, totalCoresUsed: 2, maxTotalRAMSize: -1, totalRAMUsed: 0 },
            flavors: new Map([["small", { vcpus: 2, ramMB: 4096 }]]),
        };
        const result = preflight([fleet], "up", declared, cloud);
        expect(result.peak).to.include({ servers: 4, vcpus: 8 });
        expect(result.problems.map((p) => p.limit)).to.deep.equal(["instances"]);
        expect(preflight([fleet], "batches", declared, cloud).problems).to.deep.equal([]);
    });
});

describe("the cloud the preflight reads, from OS_* or OS_CLOUD and its clouds.yaml", () => {
    const dirs: string[] = [];
    after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
    /** A HOME with ~/.config/openstack holding the given files. */
    function home(files: Record<string, string>): string {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-clouds-"));
        dirs.push(dir);
        fs.mkdirSync(path.join(dir, ".config", "openstack"), { recursive: true });
        for (const [name, text] of Object.entries(files)) {
            fs.writeFileSync(path.join(dir, ".config", "openstack", name), text);
        }
        return dir;
    }
    const CLOUDS = [
        "clouds:",
        "  prod:",
        "    auth: { auth_url: 'https://keystone.example.org:5000/v3', username: ops, project_name: web, user_domain_name: Default, project_domain_name: Default }",
        "    region_name: GRA11",
        "    interface: public",
        "  legacy:",
        "    auth: { auth_url: 'https://old.example.org/v3', username: ops, password: pw, tenant_name: web }",
        "    default_domain: default",
        "",
    ].join("\n");

    it("fills the OS_* variables from the named cloud, its password from secure.yaml", () => {
        const env = openstackEnvironment({ HOME: home({ "clouds.yaml": CLOUDS, "secure.yaml": "clouds:\n  prod:\n    auth: { password: s3cret }\n" }), OS_CLOUD: "prod" });
        expect(Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith("OS_")))).to.deep.equal({
            OS_CLOUD: "prod",
            OS_AUTH_URL: "https://keystone.example.org:5000/v3",
            OS_USERNAME: "ops",
            OS_PASSWORD: "s3cret",
            OS_PROJECT_NAME: "web",
            OS_USER_DOMAIN_NAME: "Default",
            OS_PROJECT_DOMAIN_NAME: "Default",
            OS_REGION_NAME: "GRA11",
            OS_INTERFACE: "public",
        });
        expect(cloudEnvironment({ HOME: env.HOME, OS_CLOUD: "prod" })).to.equal(true);
        expect(cloudEnvironment({ HOME: home({ "clouds.yaml": CLOUDS }), OS_CLOUD: "prod" })).to.equal(false, "no password without secure.yaml's");
    });

    it("lets variables the environment sets win, reads OS_CLIENT_CONFIG_FILE first, and maps tenant and default_domain", () => {
        const dir = home({ "clouds.yaml": CLOUDS });
        const file = path.join(dir, "other.yaml");
        fs.writeFileSync(file, CLOUDS.replace("GRA11", "BHS5"));
        const env = openstackEnvironment({ HOME: dir, OS_CLOUD: "prod", OS_CLIENT_CONFIG_FILE: file, OS_PASSWORD: "from-env" });
        expect([env.OS_REGION_NAME, env.OS_PASSWORD]).to.deep.equal(["BHS5", "from-env"]);
        const legacy = openstackEnvironment({ HOME: dir, OS_CLOUD: "legacy" });
        expect([legacy.OS_PROJECT_NAME, legacy.OS_USER_DOMAIN_ID, legacy.OS_PROJECT_DOMAIN_ID]).to.deep.equal(["web", "default", "default"]);
        expect(cloudEnvironment({ HOME: dir, OS_CLOUD: "legacy" })).to.equal(true);
        // OS_AUTH_URL set: the openrc's variables are the cloud, clouds.yaml is not read.
        const openrc = { HOME: dir, OS_CLOUD: "prod", OS_AUTH_URL: "https://x.example.org/v3" };
        expect(openstackEnvironment(openrc)).to.deep.equal(openrc);
        expect(cloudEnvironment({ HOME: dir })).to.equal(false);
    });

    it("refuses a cloud no clouds.yaml holds, and a clouds.yaml that is not YAML, without quoting it", () => {
        const dir = home({ "clouds.yaml": CLOUDS });
        expect(() => openstackEnvironment({ HOME: dir, OS_CLOUD: "staging" })).to.throw(
            `OS_CLOUD=staging: no cloud of that name in a clouds.yaml (looked at ${path.resolve("clouds.yaml")}, ${path.join(dir, ".config", "openstack", "clouds.yaml")}, /etc/openstack/clouds.yaml)`,
        );
        const broken = home({ "clouds.yaml": "clouds:\n  prod: { auth: { password: hunter2 }\n" });
        expect(() => cloudEnvironment({ HOME: broken, OS_CLOUD: "prod" }))
            .to.throw(`OS_CLOUD=prod: ${path.join(broken, ".config", "openstack", "clouds.yaml")} is not valid YAML`)
            .with.property("message")
            .that.does.not.contain("hunter2");
        const noUrl = home({ "clouds.yaml": "clouds:\n  prod: { auth: { username: ops, password: pw } }\n" });
        expect(() => cloudEnvironment({ HOME: noUrl, OS_CLOUD: "prod" })).to.throw(`OS_CLOUD=prod: its entry in ${path.join(noUrl, ".config", "openstack", "clouds.yaml")} has no auth.auth_url`);
    });
});
