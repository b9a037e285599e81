/**
 * The `box` stack (Pulumi.box.yaml) through the real Pulumi CLI and engine and the OpenStack
 * provider rebuilt from its upstream (scripts/openstack/provider.sh), against a real OpenStack
 * (scripts/openstack/cloud.sh: Debian's Keystone, Nova with its fake hypervisor on two compute
 * hosts, Neutron, Glance, Placement, Octavia with noop amphorae, Cinder with its fake driver),
 * asserting on the cloud's own API: servers, server groups, user data, security groups, the load
 * balancer's pool and monitor, volumes, from the first `pulumi up` through a rollout, a flavor
 * change, a `git revert`, a failed create and its recovery, hard anti-affinity on too few hosts,
 * and `pulumi destroy`.
 *
 * Not part of `npm test`: scripts/openstack-test.sh builds (or finds cached) the engine and the
 * provider, installs and starts the cloud, runs this file and stops the cloud by its PIDs. Run
 * alone, it starts and stops a cloud of its own. Every server listens on 127.0.0.1; the addresses
 * the cloud hands out (fixed IPs, VIPs) are only read, never contacted.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { parseDocument } from "yaml";
import { resolveStack } from "../../components/fleet";
import { planMembers } from "../../components/openstack";
import { changes, EngineProject, engineDir, ok, Run, summary } from "../helpers/engine";
import { Box, OpenStack, openBox, Server } from "../helpers/openstack";

const STACK = "box";
const COMPUTE = "2.79";
/** Cloud-side name of a fleet's server group, security group, load balancer and pool: `herd-<stack>-<fleet>`. */
const groupName = (fleet: string) => `herd-${STACK}-${fleet}`;

/** One engine event of `pulumi up --event-log`, as far as this test reads it. */
interface EngineEvent {
    sequence: number;
    resourcePreEvent?: { metadata: { op: string; urn: string; type: string } };
    resOutputsEvent?: { metadata: { op: string; urn: string; type: string } };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`the ${STACK} stack through the real engine and OpenStack provider against a real OpenStack`, function () {
    this.timeout(40 * 60 * 1000);

    let copy: EngineProject;
    let cloud: OpenStack;
    let admin: OpenStack;
    /** The cloud (started here, or the one of HERD_OPENSTACK_RUN). */
    let box: Box;
    /** Server IDs by fleet and slot after the first `pulumi up`. */
    let first: Record<string, string[]>;
    /** Generations by fleet and slot after the first `pulumi up`. */
    let firstGenerations: Record<string, string[]>;
    /** The db fleet's volume IDs by slot. */
    let volumeIds: string[];
    /** The web generations while the rollout was at 1. */
    let canaryGenerations: string[];
    /** The db server IDs before the flavor change, and the engine's events of that `pulumi up`. */
    let dbBefore: string[];
    let events: EngineEvent[];

    // ---- the cloud's state, through its API --------------------------------------------------

    /** The fleet's servers by slot (its `herd-slot` metadata), none deleted. */
    async function servers(fleet: string): Promise<Server[]> {
        const { servers: all } = await cloud.get<{ servers: Server[] }>("compute", `servers/detail?name=${encodeURIComponent(`^${fleet}-`)}`, COMPUTE);
        return all.filter((s) => s.metadata["herd-stack"] === STACK && s.metadata["herd-fleet"] === fleet).sort((a, b) => Number(a.metadata["herd-slot"]) - Number(b.metadata["herd-slot"]));
    }
    const ids = async (fleet: string) => (await servers(fleet)).map((s) => s.id);
    const table = async (fleet: string) =>
        (await servers(fleet)).map((s) => `${s.name} ${s.id} ${s.status} ${s.flavor.original_name}${s.fault ? ` (${s.fault.message})` : ""}`).join("\n");
    const ipOf = (server: Server) => server.addresses["herd-net"]?.[0]?.addr;

    /** Waits (bounded) until the fleet's servers are exactly `size`, all ACTIVE: deletions Nova still runs take a moment. */
    async function settled(fleet: string, size: number): Promise<Server[]> {
        const deadline = Date.now() + 120_000;
        for (;;) {
            const list = await servers(fleet);
            if (list.length === size && list.every((s) => s.status === "ACTIVE")) {
                return list;
            }
            if (Date.now() > deadline) {
                throw new Error(`fleet ${fleet}: expected ${size} ACTIVE servers:\n${await table(fleet)}`);
            }
            await sleep(1000);
        }
    }

    /** The fleet's Nova server group (policy and members). */
    async function serverGroup(fleet: string): Promise<{ id: string; policy: string; members: string[] }> {
        const { server_groups: groups } = await cloud.get<{ server_groups: { id: string; name: string; policy: string; members: string[] }[] }>("compute", "os-server-groups", COMPUTE);
        const found = groups.filter((g) => g.name === groupName(fleet));
        expect(found, `server groups named ${groupName(fleet)}`).to.have.length(1);
        return found[0];
    }

    /** The fleet's load balancer pool: member addresses and ports, and its health monitor. */
    async function pool(fleet: string) {
        const { pools } = await cloud.get<{ pools: { id: string; healthmonitor_id: string; protocol: string }[] }>("load-balancer", `v2/lbaas/pools?name=${groupName(fleet)}`);
        expect(pools, `pools named ${groupName(fleet)}`).to.have.length(1);
        const { members } = await cloud.get<{ members: { address: string; protocol_port: number; monitor_port: number }[] }>("load-balancer", `v2/lbaas/pools/${pools[0].id}/members`);
        const { healthmonitor } = await cloud.get<{ healthmonitor: Record<string, unknown> }>("load-balancer", `v2/lbaas/healthmonitors/${pools[0].healthmonitor_id}`);
        return { protocol: pools[0].protocol, members, healthmonitor };
    }

    /** Asserts that the pool has exactly one member per server of the fleet, on the health port. */
    async function poolMatches(fleet: string, size: number): Promise<void> {
        const list = await settled(fleet, size);
        const { members } = await pool(fleet);
        expect(members.map((m) => m.address).sort(), `pool of ${fleet} vs its servers:\n${await table(fleet)}`).to.deep.equal(list.map(ipOf).sort());
        expect(members.every((m) => m.protocol_port === 80 && m.monitor_port === 80)).to.equal(true);
    }

    /** The db fleet's volumes by slot: ID, status, and the server each is attached to. */
    async function volumes(): Promise<{ id: string; name: string; status: string; server?: string }[]> {
        const { volumes: all } = await cloud.get<{ volumes: { id: string; name: string; status: string; attachments: { server_id: string }[] }[] }>("volumev3", "volumes/detail");
        return all
            .filter((v) => /^db-\d+-data$/.test(v.name))
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((v) => ({ id: v.id, name: v.name, status: v.status, server: v.attachments[0]?.server_id }));
    }

    /** Why Nova could not build a server (its `fault`, which only the single-server view shows). */
    async function fault(id: string): Promise<string | undefined> {
        return (await cloud.get<{ server: Server }>("compute", `servers/${id}`, COMPUTE)).server.fault?.message;
    }

    /** The user data Nova stored for a server, decoded (an admin-only attribute). */
    async function storedUserData(id: string): Promise<string> {
        const { server } = await admin.get<{ server: Server }>("compute", `servers/${id}`, COMPUTE);
        return Buffer.from(server["OS-EXT-SRV-ATTR:user_data"] ?? "", "base64").toString("utf8");
    }

    /** The user data herd renders for each slot of a fleet, from the copy's stack file as it is now. */
    function renderedUserData(fleet: string): string[] {
        const config = copy.config(STACK);
        const { fleets } = resolveStack({ fleets: config["herd:fleets"], openstack: config["herd:openstack"] }, { stack: STACK, projectDir: copy.project });
        const resolved = fleets.find((f) => f.name === fleet);
        if (resolved?.backend !== "openstack") {
            throw new Error(`no openstack fleet ${fleet}`);
        }
        const { args } = resolved;
        return planMembers(fleet, { size: args.size, release: args.release, rollout: args.rollout, batch: args.update?.batch, securityGroupName: args.groupName ?? groupName(fleet), probes: args.probes }).map(
            (m) => m.userData,
        );
    }

    /** The stack's `fleets` output: generations by slot. */
    function generations(fleet: string): string[] {
        const output = ok(copy.cli("stack", "output", "fleets", "--stack", STACK, "--json"), "pulumi stack output");
        return JSON.parse(output.stdout)[fleet].generations;
    }

    /** Enables or disables both nova-compute services (the scheduler places nothing on a disabled host). */
    async function compute(enabled: boolean): Promise<void> {
        const { services } = await admin.get<{ services: { id: string; binary: string }[] }>("compute", "os-services?binary=nova-compute", COMPUTE);
        expect(services, "nova-compute services").to.have.length(2);
        for (const service of services) {
            const answer = await admin.request("compute", "PUT", `os-services/${service.id}`, enabled ? { status: "enabled" } : { status: "disabled", disabled_reason: "herd test" }, COMPUTE);
            expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
        }
    }

    // ---- the project ---------------------------------------------------------------------------

    /** Commits the copy with a message. */
    function commit(message: string): void {
        copy.git("add", "--all");
        copy.git("commit", "--quiet", "-m", message);
    }

    /** Sets a key of a fleet in the stack file (the YAML document kept, comments and all). */
    function setFleet(fleet: string, key: (string | number)[], value: unknown): void {
        const file = copy.stackFile(STACK);
        const doc = parseDocument(fs.readFileSync(file, "utf8"));
        const at = ["config", "herd:fleets", fleet, ...key];
        if (value === undefined) {
            doc.deleteIn(at);
        } else {
            doc.setIn(at, doc.createNode(value));
        }
        fs.writeFileSync(file, doc.toString());
    }

    /** `pulumi up` with the engine's event log; returns the events, in order. */
    function upWithEvents(): EngineEvent[] {
        const log = path.join(copy.work, `events-${Date.now()}.jsonl`);
        copy.up(STACK, "--event-log", log);
        return fs
            .readFileSync(log, "utf8")
            .split("\n")
            .filter((line) => line.trim() !== "")
            .map((line) => JSON.parse(line) as EngineEvent)
            .sort((a, b) => a.sequence - b.sequence);
    }

    /** Index in the event log of the first event of `kind` with `op` on the resource named `name` of `type`. */
    function eventIndex(events: EngineEvent[], kind: "resourcePreEvent" | "resOutputsEvent", op: string, name: string, type = "openstack:compute/instance:Instance"): number {
        const index = events.findIndex((e) => e[kind]?.metadata.op === op && e[kind]?.metadata.type === type && e[kind]?.metadata.urn.endsWith(`::${name}`));
        expect(index, `${kind} ${op} of ${name} in the event log`).to.be.greaterThan(-1);
        return index;
    }

    before(async function () {
        const engine = engineDir();
        box = await openBox(engine);
        ({ cloud, admin } = box);
        const { hypervisors } = await admin.get<{ hypervisors: { hypervisor_hostname: string; state: string }[] }>("compute", "os-hypervisors", COMPUTE);
        expect(hypervisors.filter((h) => h.state === "up"), "the box needs two compute hosts").to.have.length(2);
        // The program reaches the cloud as the test project, from the environment, as users do.
        // PULUMI_DEBUG_COMMANDS enables `pulumi up --event-log` (what the Automation API uses).
        copy = new EngineProject(engine, { ...box.env, PULUMI_DEBUG_COMMANDS: "true" });
        copy.initStack(STACK);
    });

    after(function () {
        box?.stop();
        copy?.remove();
    });

    it("pulumi up: a server per slot, ACTIVE, in the fleet's server group; generation in names and metadata; user data byte for byte; rules; pool and monitor; volumes", async function () {
        copy.up(STACK);
        first = {};
        firstGenerations = {};
        for (const [fleet, size, policy] of [["web", 4, "soft-anti-affinity"], ["db", 2, "anti-affinity"]] as const) {
            const list = await settled(fleet, size);
            const expected = generations(fleet);
            const group = await serverGroup(fleet);
            expect(group.policy).to.equal(policy);
            expect([...group.members].sort()).to.deep.equal(list.map((s) => s.id).sort());
            const rendered = renderedUserData(fleet);
            for (const [slot, server] of list.entries()) {
                expect(server.name).to.equal(`${fleet}-${slot}-${expected[slot]}`);
                expect(server.metadata).to.include({ "herd-fleet": fleet, "herd-slot": String(slot), "herd-generation": expected[slot] });
                expect(server.flavor.original_name).to.equal("m1.small");
                expect(await storedUserData(server.id), `user data of ${server.name}`).to.equal(rendered[slot]);
            }
            first[fleet] = list.map((s) => s.id);
            firstGenerations[fleet] = expected;
        }
        // Hard anti-affinity: the two db members are on the two hosts.
        const hosts = await Promise.all(first.db.map(async (id) => (await admin.get<{ server: Server }>("compute", `servers/${id}`, COMPUTE)).server["OS-EXT-SRV-ATTR:host"]));
        expect(new Set(hosts).size).to.equal(2);

        // The fleet's security group holds exactly its ingress rules.
        const { security_groups: groups } = await cloud.get<{ security_groups: { security_group_rules: Record<string, unknown>[] }[] }>("network", `v2.0/security-groups?name=${groupName("web")}`);
        expect(groups).to.have.length(1);
        const ingress = groups[0].security_group_rules
            .filter((r) => r.direction === "ingress")
            .map((r) => `${r.ethertype} ${r.protocol} ${r.port_range_min}-${r.port_range_max} ${r.remote_ip_prefix}`)
            .sort();
        expect(ingress).to.deep.equal(["IPv4 tcp 80-80 10.0.0.0/8", "IPv4 tcp 9100-9100 10.0.0.0/24"]);

        // One pool member per server, and the monitor herd configured.
        await poolMatches("web", 4);
        const { protocol, healthmonitor } = await pool("web");
        expect(protocol).to.equal("HTTP");
        expect(healthmonitor).to.include({ type: "HTTP", url_path: "/healthz", http_method: "GET", expected_codes: "200", delay: 5, timeout: 3, max_retries: 3 });

        // A volume per db slot, attached to the slot's server.
        const attached = await volumes();
        expect(attached.map((v) => [v.name, v.status, v.server])).to.deep.equal([
            ["db-0-data", "in-use", first.db[0]],
            ["db-1-data", "in-use", first.db[1]],
        ]);
        volumeIds = attached.map((v) => v.id);
    });

    it("a second pulumi preview plans no change against the real cloud", function () {
        const plan = copy.preview(STACK);
        expect(changes(plan), `expected no changes:\n${summary(plan)}`).to.deep.equal([]);
    });

    it("herd release at 1: exactly one server replaced, the three others keep their IDs; the pool follows", async function () {
        const webYaml = fs.readFileSync(path.join(copy.project, "cloud-init", "web.yaml"), "utf8");
        fs.writeFileSync(path.join(copy.project, "cloud-init", "web-next.yaml"), `${webYaml}bootcmd:\n  - [sh, -c, "echo next > /etc/herd-release"]\n`);
        ok(copy.herd("release", "web", "--stack", STACK, "--set", "userData=cloud-init/web-next.yaml"), "herd release");
        commit("web: a new release, first wave");
        copy.up(STACK);
        const list = await settled("web", 4);
        expect(list[0].id).to.not.equal(first.web[0]);
        expect(list.slice(1).map((s) => s.id)).to.deep.equal(first.web.slice(1));
        const expected = generations("web");
        expect(expected[0]).to.not.equal(expected[1]);
        expect(list[0].name).to.equal(`web-0-${expected[0]}`);
        canaryGenerations = expected;
        expect(await storedUserData(list[0].id)).to.equal(renderedUserData("web")[0]);
        expect(await storedUserData(list[0].id)).to.contain("echo next > /etc/herd-release");
        expect((await admin.request("compute", "GET", `servers/${first.web[0]}`, undefined, COMPUTE)).status, "the old server is deleted").to.equal(404);
        await poolMatches("web", 4);
    });

    it("herd promote web to all (with a db flavor change, in the same up): slots 1-3 replaced batch by batch, each new server created before its predecessor is deleted", async function () {
        const before = await ids("web");
        dbBefore = await ids("db");
        ok(copy.herd("promote", "web", "--stack", STACK), "herd promote");
        setFleet("db", ["release", "flavor"], "m1.medium");
        commit("web: all; db: a larger flavor");
        events = upWithEvents();
        const after = await settled("web", 4);
        expect(after[0].id, "slot 0 already ran the release").to.equal(before[0]);
        for (let slot = 1; slot < 4; slot++) {
            expect(after[slot].id, `slot ${slot}`).to.not.equal(before[slot]);
            const created = eventIndex(events, "resOutputsEvent", "create-replacement", `web-${slot}`);
            const deleted = eventIndex(events, "resourcePreEvent", "delete-replaced", `web-${slot}`);
            expect(created, `web-${slot}: create before delete`).to.be.lessThan(deleted);
        }
        // Batch 1 (slots 2 and 3) starts once batch 0 (slot 1) is done.
        const batch0Done = eventIndex(events, "resOutputsEvent", "create-replacement", "web-1");
        for (const slot of [2, 3]) {
            expect(eventIndex(events, "resourcePreEvent", "create-replacement", `web-${slot}`), `web-${slot} waits for batch 0`).to.be.greaterThan(batch0Done);
        }
        const expected = generations("web");
        expect(new Set(expected).size).to.equal(1);
        expect(after.map((s) => s.name)).to.deep.equal([0, 1, 2, 3].map((slot) => `web-${slot}-${expected[0]}`));
        await poolMatches("web", 4);
    });

    it("the flavor-only change replaced the db members (never a resize), delete-before-create, and their volumes kept their IDs, attached to the new servers", async function () {
        const before = dbBefore;
        const after = await settled("db", 2);
        for (let slot = 0; slot < 2; slot++) {
            expect(after[slot].id, `db-${slot} replaced`).to.not.equal(before[slot]);
            expect(after[slot].flavor.original_name).to.equal("m1.medium");
            expect((await admin.request("compute", "GET", `servers/${before[slot]}`, undefined, COMPUTE)).status, "the old server is deleted, not resized").to.equal(404);
            const deleted = eventIndex(events, "resourcePreEvent", "delete-replaced", `db-${slot}`);
            const created = eventIndex(events, "resourcePreEvent", "create-replacement", `db-${slot}`);
            expect(deleted, `db-${slot}: delete before create`).to.be.lessThan(created);
        }
        const attached = await volumes();
        expect(attached.map((v) => [v.id, v.status, v.server])).to.deep.equal([
            [volumeIds[0], "in-use", after[0].id],
            [volumeIds[1], "in-use", after[1].id],
        ]);
        expect(generations("db")[0]).to.not.equal(undefined);
    });

    it("git revert + pulumi up restores the previous releases (web at its first wave, db on its first flavor), on new servers, volumes still attached", async function () {
        const replaced = await ids("db");
        copy.git("revert", "--no-edit", "HEAD");
        copy.up(STACK);
        const after = await settled("db", 2);
        expect(after.map((s) => s.flavor.original_name)).to.deep.equal(["m1.small", "m1.small"]);
        expect(after.filter((s) => replaced.includes(s.id))).to.deep.equal([]);
        expect(generations("db")).to.deep.equal(firstGenerations.db);
        expect(generations("web")).to.deep.equal(canaryGenerations);
        await poolMatches("web", 4);
        expect(after.map((s) => s.name)).to.deep.equal(firstGenerations.db.map((g, slot) => `db-${slot}-${g}`));
        expect((await volumes()).map((v) => [v.id, v.server])).to.deep.equal([
            [volumeIds[0], after[0].id],
            [volumeIds[1], after[1].id],
        ]);
        const plan = copy.preview(STACK);
        expect(changes(plan), `expected no changes:\n${summary(plan)}`).to.deep.equal([]);
    });

    it("a server Nova cannot build fails the up naming its slot, and the next up replaces it once the cloud can", async function () {
        const before = await ids("web");
        await compute(false);
        let failed: Run;
        try {
            setFleet("web", ["size"], 5);
            commit("web: five members");
            failed = copy.pulumi("up", "--stack", STACK, "--yes", "--skip-preview");
        } finally {
            await compute(true);
        }
        expect(failed.status, "pulumi up with no compute host").to.not.equal(0);
        const output = failed.stdout + failed.stderr;
        expect(output).to.match(/web-4/);
        const broken = (await servers("web")).find((s) => s.metadata["herd-slot"] === "4");
        expect(broken?.status, await table("web")).to.equal("ERROR");
        expect(await fault(broken?.id as string)).to.match(/No valid host was found/);

        // Nothing changed in the stack file: the same up, now that the hosts take servers again.
        copy.up(STACK);
        const after = await settled("web", 5);
        expect(after.slice(0, 4).map((s) => s.id), "the other members are untouched").to.deep.equal(before);
        expect(after[4].id, "the failed member is replaced, not patched").to.not.equal(broken?.id);
        expect((await admin.request("compute", "GET", `servers/${broken?.id}`, undefined, COMPUTE)).status).to.equal(404);
        await poolMatches("web", 5);
        const plan = copy.preview(STACK);
        expect(changes(plan), `expected no changes:\n${summary(plan)}`).to.deep.equal([]);
    });

    it("hard anti-affinity with more members than compute hosts is refused before any server exists; undeclared, Nova's failure shows", async function () {
        const fleet = {
            backend: "openstack",
            size: 3,
            release: { image: "herd-tiny", flavor: "m1.small", network: "herd-net" },
            spread: "anti-affinity",
            update: { order: "delete-before-create" },
        };
        setFleet("cache", [], fleet);
        const refused = copy.pulumi("preview", "--stack", STACK);
        expect(refused.status).to.not.equal(0);
        expect(refused.stdout + refused.stderr).to.match(/herd:fleets\.cache\.size = 3: .*herd:openstack\.computeHosts = 2/);
        const up = copy.pulumi("up", "--stack", STACK, "--yes", "--skip-preview");
        expect(up.status).to.not.equal(0);
        expect(await servers("cache"), "no server was created").to.deep.equal([]);

        // Without the declared hosts, Nova refuses the third member.
        const file = copy.stackFile(STACK);
        const doc = parseDocument(fs.readFileSync(file, "utf8"));
        doc.deleteIn(["config", "herd:openstack"]);
        fs.writeFileSync(file, doc.toString());
        const failed = copy.pulumi("up", "--stack", STACK, "--yes", "--skip-preview");
        expect(failed.status).to.not.equal(0);
        expect(failed.stdout + failed.stderr).to.match(/cache-\d/);
        const list = await servers("cache");
        expect(list.filter((s) => s.status === "ACTIVE"), await table("cache")).to.have.length(2);
        const errors = list.filter((s) => s.status === "ERROR");
        expect(errors, await table("cache")).to.have.length(1);
        expect(await fault(errors[0].id)).to.match(/No valid host was found/);

        // The stack file as committed; the cache fleet's servers, the failed one included, go with the destroy below.
        copy.git("checkout", "--", `Pulumi.${STACK}.yaml`);
    });

    it("pulumi destroy removes every member, group, security group, load balancer and port; the protected volumes stay, in the cloud and (until unprotected) in the state", async function () {
        const refused = copy.pulumi("destroy", "--stack", STACK, "--yes", "--skip-preview");
        expect(refused.status, "destroy stops at the protected volumes").to.not.equal(0);
        expect(refused.stdout + refused.stderr).to.match(/db-0-data.*cannot be deleted\s+because it is protected/s);
        for (const fleet of ["web", "db", "cache"]) {
            const deadline = Date.now() + 120_000;
            while ((await servers(fleet)).length > 0 && Date.now() < deadline) {
                await sleep(1000);
            }
            expect(await servers(fleet), fleet).to.deep.equal([]);
        }
        const { server_groups: groups } = await cloud.get<{ server_groups: { name: string }[] }>("compute", "os-server-groups", COMPUTE);
        expect(groups.filter((g) => g.name.startsWith("herd-"))).to.deep.equal([]);
        const { security_groups: secgroups } = await cloud.get<{ security_groups: { name: string }[] }>("network", "v2.0/security-groups");
        expect(secgroups.filter((g) => g.name.startsWith("herd-"))).to.deep.equal([]);
        const { loadbalancers } = await cloud.get<{ loadbalancers: { name: string; provisioning_status: string }[] }>("load-balancer", "v2/lbaas/loadbalancers");
        expect(loadbalancers.filter((lb) => lb.provisioning_status !== "DELETED")).to.deep.equal([]);
        const { ports } = await cloud.get<{ ports: { name: string; device_owner: string }[] }>("network", "v2.0/ports");
        expect(ports.filter((p) => p.device_owner === "Octavia" || p.device_owner.startsWith("compute:")), "ports left behind").to.deep.equal([]);
        const kept = await volumes();
        expect(kept.map((v) => [v.id, v.status, v.server])).to.deep.equal([
            [volumeIds[0], "available", undefined],
            [volumeIds[1], "available", undefined],
        ]);
        const state = ok(copy.cli("stack", "--stack", STACK, "--show-urns"), "pulumi stack").stdout;
        expect(state).to.contain("Volume::db-0-data").and.to.contain("Volume::db-1-data");
        expect(state).to.not.contain("Instance::");

        // Unprotected on purpose, a second destroy forgets them (retainOnDelete): they stay in the cloud.
        ok(copy.cli("state", "unprotect", "--all", "--stack", STACK, "--yes"), "pulumi state unprotect");
        ok(copy.pulumi("destroy", "--stack", STACK, "--yes", "--skip-preview"), "pulumi destroy");
        expect(ok(copy.cli("stack", "--stack", STACK, "--show-urns"), "pulumi stack").stdout).to.not.contain("Volume::");
        expect((await volumes()).map((v) => [v.id, v.status])).to.deep.equal([
            [volumeIds[0], "available"],
            [volumeIds[1], "available"],
        ]);
        // The test's own cleanup of what herd keeps.
        for (const volume of kept) {
            expect((await cloud.request("volumev3", "DELETE", `volumes/${volume.id}`)).status).to.equal(202);
        }
    });
});
