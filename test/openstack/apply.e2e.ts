/**
 * `herd apply` and the preflight through the real Pulumi engine and OpenStack provider against a
 * real OpenStack (scripts/openstack/cloud.sh), asserting on the cloud's own API: with an instance
 * quota of the stack's servers + 2, `herd apply` moves a fleet of 4 (batch 2, behind a load
 * balancer) to a new release while a poll of the server list never sees more than 2 extra
 * servers, and a plain `pulumi up` of the same change is refused by the program's preflight with
 * the quota's figures before any server is created; hard anti-affinity with as many hosts as
 * members (`db`: 2 on the cloud's 2 hosts) is created and replaced delete-before-create, one
 * member per host, and is refused with create-before-delete, before any server is created.
 *
 * Not part of `npm test`. Uses the cloud of `HERD_OPENSTACK_RUN` when set (its project must hold
 * no servers of its own: the test sets the project's instance quota), else starts and stops one
 * of its own. Every server listens on 127.0.0.1; the addresses the cloud hands out are only read.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { parseDocument } from "yaml";
import { EngineProject, engineDir, ok, REPO, Run } from "../helpers/engine";
import { Box, OpenStack, openBox, readCloudEnv, Server } from "../helpers/openstack";

const STACK = "quota";
const COMPUTE = "2.79";
const SIZE = 4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The stack: `web` (4 members, batch 2, behind a load balancer) and `db` (2 members with hard
 * anti-affinity on the cloud's 2 compute hosts, delete-before-create).
 */
const STACK_FILE = `config:
  herd:openstack:
    computeHosts: 2
  herd:fleets:
    web:
      backend: openstack
      size: ${SIZE}
      release: { image: herd-tiny, flavor: m1.small, network: herd-net, userData: cloud-init/web.yaml }
      update: { batch: 2 }
      spread: soft-anti-affinity
      health: { path: /healthz, port: 80 }
      loadBalancer: { port: 80, protocol: HTTP }
    db:
      backend: openstack
      size: 2
      release: { image: herd-tiny, flavor: m1.small, network: herd-net, userData: cloud-init/worker.yaml }
      update: { batch: 1, order: delete-before-create }
      spread: anti-affinity
`;
/** Servers of the stack: web and db. */
const SERVERS = SIZE + 2;

describe("herd apply and the preflight through the real engine against a real OpenStack", function () {
    this.timeout(15 * 60 * 1000);

    let copy: EngineProject;
    let cloud: OpenStack;
    let admin: OpenStack;
    /** The cloud (started here, or the one of HERD_OPENSTACK_RUN). */
    let box: Box;
    /** The project's instance quota during the test: the stack's servers + 2; and before it, restored after. */
    let quota: number;
    let quotaBefore: number | undefined;

    async function servers(): Promise<Server[]> {
        const { servers: all } = await cloud.get<{ servers: Server[] }>("compute", "servers/detail", COMPUTE);
        return all.filter((s) => s.metadata["herd-stack"] === STACK).sort((a, b) => a.name.localeCompare(b.name));
    }
    const fleetServers = async (fleet: string) => (await servers()).filter((s) => s.metadata["herd-fleet"] === fleet);

    /** Polls the project's server list (every server, whatever its state) until stopped; returns the most it saw at once. */
    function pollServers(): { stop: () => Promise<{ most: number; polls: number }> } {
        let running = true;
        let most = 0;
        let polls = 0;
        const loop = (async () => {
            while (running) {
                const { servers: all } = await cloud.get<{ servers: unknown[] }>("compute", "servers");
                most = Math.max(most, all.length);
                polls++;
                await sleep(200);
            }
        })();
        return {
            stop: async () => {
                running = false;
                await loop;
                return { most, polls };
            },
        };
    }

    function setFleet(fleet: string, key: (string | number)[], value: unknown): void {
        const file = copy.stackFile(STACK);
        const doc = parseDocument(fs.readFileSync(file, "utf8"));
        doc.setIn(["config", "herd:fleets", fleet, ...key], doc.createNode(value));
        fs.writeFileSync(file, doc.toString());
    }
    /** The `herd` command line, run without blocking this process (the server list is polled meanwhile). */
    function herdAsync(...args: string[]): Promise<Run> {
        return new Promise((resolve, reject) => {
            const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO, "components", "cli", "main.ts"), ...args], { cwd: copy.project, env: copy.env });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
            child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
            child.on("error", reject);
            child.on("exit", (status) => resolve({ status, stdout, stderr }));
        });
    }
    async function hostsOf(list: Server[]): Promise<string[]> {
        return Promise.all(list.map(async (s) => (await admin.get<{ server: Server }>("compute", `servers/${s.id}`, COMPUTE)).server["OS-EXT-SRV-ATTR:host"] ?? ""));
    }

    function commit(message: string): void {
        copy.git("add", "--all");
        copy.git("commit", "--quiet", "-m", message);
    }

    async function setQuota(instances: number): Promise<void> {
        const answer = await admin.request("compute", "PUT", `os-quota-sets/${readCloudEnv(box.dir).OS_PROJECT_ID}`, { quota_set: { instances } });
        expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
    }

    /**
     * Runs `body` with the cloud named as many users name it: `OS_CLOUD` and a clouds.yaml
     * (the cloud's own, entry `herd`) instead of the openrc's `OS_*` variables.
     */
    async function withCloudsYaml<T>(body: () => T | Promise<T>): Promise<T> {
        const saved = Object.entries(copy.env).filter(([name]) => name.startsWith("OS_"));
        for (const [name] of saved) {
            delete copy.env[name];
        }
        Object.assign(copy.env, { OS_CLOUD: "herd", OS_CLIENT_CONFIG_FILE: path.join(box.dir, "clouds.yaml") });
        try {
            return await body();
        } finally {
            delete copy.env.OS_CLOUD;
            delete copy.env.OS_CLIENT_CONFIG_FILE;
            Object.assign(copy.env, Object.fromEntries(saved));
        }
    }

    before(async function () {
        const engine = engineDir();
        box = await openBox(engine);
        ({ cloud, admin } = box);
        const { servers: existing } = await cloud.get<{ servers: unknown[] }>("compute", "servers");
        expect(existing, "the project holds no servers before the test").to.have.length(0);
        copy = new EngineProject(engine, { ...box.env, PULUMI_DEBUG_COMMANDS: "true" });
        fs.writeFileSync(copy.stackFile(STACK), STACK_FILE);
        copy.initStack(STACK);
        quotaBefore = (await cloud.get<{ limits: { absolute: { maxTotalInstances: number } } }>("compute", "limits")).limits.absolute.maxTotalInstances;
        quota = SERVERS + 2;
        await setQuota(quota);
    });

    after(async function () {
        if (copy) {
            copy.pulumi("destroy", "--stack", STACK, "--yes", "--skip-preview");
        }
        if (admin && quotaBefore !== undefined) {
            await setQuota(quotaBefore).catch(() => undefined);
        }
        box?.stop();
        copy?.remove();
    });

    it("herd apply on a new stack creates both fleets: web's 4 servers in its pool, db's 2 on the 2 hosts", async function () {
        const run = ok(copy.herd("apply", "--stack", STACK), "herd apply");
        expect(run.stdout).to.contain(`herd apply needs at its peak ${SERVERS} servers, ${SERVERS} vCPUs, ${SERVERS * 2048} MB of RAM, 2 compute hosts for fleet db's anti-affinity (limits: Nova's GET /limits)`);
        expect((await fleetServers("web")).map((s) => s.status)).to.deep.equal(Array(SIZE).fill("ACTIVE"));
        const db = await fleetServers("db");
        expect(db.map((s) => s.status)).to.deep.equal(["ACTIVE", "ACTIVE"]);
        expect(new Set(await hostsOf(db)).size).to.equal(2);
    });

    it("a plain pulumi up of a release change is refused by the preflight with the quota's figures (the cloud named by OS_CLOUD), before any server is created", async function () {
        const before = (await servers()).map((s) => s.id);
        setFleet("web", ["release", "flavor"], "m1.medium");
        setFleet("db", ["release", "userData"], "cloud-init/web.yaml");
        commit("web: a larger flavor; db: a new release");
        const run = await withCloudsYaml(() => copy.pulumi("up", "--stack", STACK, "--yes", "--skip-preview"));
        expect(run.status).to.not.equal(0);
        const output = `${run.stdout}\n${run.stderr}`;
        // web: 4 old + 4 new alive until the end of the up; db: delete-before-create, 2.
        expect(output).to.contain(
            `herd preflight refused stack ${STACK}, before any server is created: a plain pulumi up needs ${SERVERS + SIZE} servers at its peak (the fleets hold ${SERVERS} now), the instances quota is ${quota} (Nova's GET /limits): room for ${quota}`,
        );
        expect(output).to.contain(`herd apply --stack ${STACK} applies it one batch at a time and needs ${SERVERS + 2} servers`);
        expect((await servers()).map((s) => s.id)).to.deep.equal(before);
    });

    it("herd plan shows both peaks (Nova's, through OS_CLOUD) and sends the change to herd apply", async function () {
        const run = await withCloudsYaml(() => copy.herd("plan", "--stack", STACK));
        expect(run.stdout).to.contain(`a plain pulumi up needs at its peak ${SERVERS + SIZE} servers, 14 vCPUs, 28672 MB of RAM, 2 compute hosts for fleet db's anti-affinity (limits: Nova's GET /limits)`);
        expect(run.stdout).to.contain(`herd apply needs at its peak ${SERVERS + 2} servers, 12 vCPUs, 24576 MB of RAM`);
        expect(run.stdout).to.contain(`a plain pulumi up of this change would be refused: apply it with herd apply --stack ${STACK}`);
    });

    it("herd apply moves both fleets batch by batch: the server list never holds more than 2 extra; db stays one member per host", async function () {
        const before = (await servers()).map((s) => s.id);
        const poll = pollServers();
        const run = await herdAsync("apply", "--stack", STACK);
        const { most, polls } = await poll.stop();
        ok(run, "herd apply");
        console.log(`      the server list held at most ${most} servers over ${polls} polls (quota ${quota})`);
        expect(polls, "polls of the server list").to.be.greaterThan(20);
        expect(most, "the most servers the project held at once").to.equal(SERVERS + 2);
        expect(run.stdout).to.match(/fleet web, batch 1 of 2 \(slots 0, 1\): web-0-\w+, web-1-\w+ ACTIVE and in the pool/);
        expect(run.stdout).to.match(/fleet web, batch 2 of 2 \(slots 2, 3\): web-2-\w+, web-3-\w+ ACTIVE and in the pool/);
        expect(run.stdout).to.match(/fleet db, batch 2 of 2 \(slot 1\): db-1-\w+ ACTIVE/);
        const web = await fleetServers("web");
        expect(web.map((s) => [s.status, s.flavor.original_name])).to.deep.equal(Array(SIZE).fill(["ACTIVE", "m1.medium"]));
        const db = await fleetServers("db");
        expect(db.map((s) => s.status)).to.deep.equal(["ACTIVE", "ACTIVE"]);
        expect([...web, ...db].map((s) => s.id).filter((id) => before.includes(id)), "servers left from before").to.deep.equal([]);
        expect(new Set(await hostsOf(db)).size, "db's hosts").to.equal(2);
        // The pool follows: one member per new server.
        const { pools } = await cloud.get<{ pools: { id: string }[] }>("load-balancer", `v2/lbaas/pools?name=herd-${STACK}-web`);
        const { members } = await cloud.get<{ members: { name: string }[] }>("load-balancer", `v2/lbaas/pools/${pools[0].id}/members`);
        expect(members.map((m) => m.name).sort()).to.deep.equal(web.map((s) => s.name).sort());
    });

    it("hard anti-affinity with as many hosts as members is refused with create-before-delete, before any server is created", async function () {
        const before = (await servers()).map((s) => s.id);
        setFleet("db", ["update", "order"], "create-before-delete");
        setFleet("db", ["release", "userData"], "cloud-init/worker.yaml");
        commit("db: create-before-delete");
        const expected = `herd:fleets.db.update.order = "create-before-delete": expected at most herd:openstack.computeHosts = 2 hosts at the peak`;
        for (const run of [copy.herd("apply", "--stack", STACK), copy.pulumi("up", "--stack", STACK, "--yes", "--skip-preview")]) {
            expect(run.status).to.not.equal(0);
            expect(`${run.stdout}\n${run.stderr}`).to.contain(expected);
        }
        expect((await servers()).map((s) => s.id)).to.deep.equal(before);
    });
});
