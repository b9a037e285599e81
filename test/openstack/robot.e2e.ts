/**
 * The robot heals an OpenStack fleet: the `heal` stack (a `web` fleet of 3 behind an Octavia load
 * balancer, batch 1) is brought up through the real Pulumi engine and OpenStack provider against
 * the real OpenStack on this machine (scripts/openstack/cloud.sh); the Nova server of slot 1 is
 * put into ERROR with the admin's `os-resetState` (what `openstack server set --state error`
 * does); a `HerdMemberDown` alert for that member reaches the real `herd robot` through the real
 * Alertmanager (Debian's prometheus-alertmanager, routed by the sample
 * examples/robot/alertmanager.yml to the robot on 127.0.0.1 with its bearer token), and the
 * robot replaces that member with a targeted `pulumi up` through the Automation API. The test
 * asserts on Nova's and Octavia's APIs: slot 1's server has a new ID, is ACTIVE and in the fleet's
 * server group and pool, the old one is gone, the two others keep their IDs; the robot's log
 * records the alert and the action, `herd timeline` tells it, and a `pulumi preview` plans no
 * change.
 *
 * One stand-in: Nova's fake driver runs nothing, so no node_exporter answers and no Prometheus
 * could scrape the members. The test plays Prometheus's part: it posts to Alertmanager's API
 * (`POST /api/v2/alerts`) the alert herd's own rule fires for that member — the labels and
 * annotations are not written by hand but checked first with `promtool test rules` against the
 * stack's exported rule file (`alertRules`), fed the `up` series the README's
 * `openstack_sd_configs` scrape config gives each member (`job`, `instance` and the `herd_*`
 * labels from the servers' Nova metadata), slot 1's at 0 for longer than the rule's `for`.
 *
 * Not part of `npm test`: scripts/openstack-test.sh runs it after the two other OpenStack tests.
 * Uses the cloud of `HERD_OPENSTACK_RUN` when set, else starts and stops one of its own. Every
 * process it starts listens on 127.0.0.1 and is stopped by its PID; the addresses the cloud hands
 * out are only read.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import * as YAML from "yaml";
import { changes, EngineProject, engineDir, ok, summary } from "../helpers/engine";
import { Box, OpenStack, openBox, Server } from "../helpers/openstack";
import { RobotBehindAlertmanager, startRobotBehindAlertmanager, TestProcesses, until } from "../helpers/robot";

const STACK = "heal";
const FLEET = "web";
const SIZE = 3;
const COMPUTE = "2.79";
const TOKEN = "robot-openstack-0123456789abcdef0123";
/** Cloud-side name of the fleet's server group and pool. */
const GROUP = `herd-${STACK}-${FLEET}`;
/** The slot whose server is put into ERROR. */
const VICTIM = 1;

const STACK_FILE = `config:
  herd:fleets:
    ${FLEET}:
      backend: openstack
      size: ${SIZE}
      release: { image: herd-tiny, flavor: m1.small, network: herd-net, userData: cloud-init/web.yaml }
      update: { batch: 1 }
      spread: soft-anti-affinity
      health: { path: /healthz, port: 80 }
      loadBalancer: { port: 80, protocol: HTTP }
`;

/** An alert as Prometheus posts it to Alertmanager, and as `promtool test rules` expects it. */
interface PostedAlert {
    labels: Record<string, string>;
    annotations: Record<string, string>;
}

describe("herd robot on a real OpenStack: a member whose Nova server is in ERROR is replaced through Alertmanager and the robot", function () {
    this.timeout(15 * 60 * 1000);

    let box: Box;
    let cloud: OpenStack;
    let copy: EngineProject;
    let processes: TestProcesses;

    /** The fleet's servers by slot (their `herd-slot` metadata). */
    async function servers(): Promise<Server[]> {
        const { servers: all } = await cloud.get<{ servers: Server[] }>("compute", "servers/detail", COMPUTE);
        return all
            .filter((s) => s.metadata["herd-stack"] === STACK && s.metadata["herd-fleet"] === FLEET)
            .sort((a, b) => Number(a.metadata["herd-slot"]) - Number(b.metadata["herd-slot"]));
    }
    const table = async () => (await servers()).map((s) => `${s.name} ${s.id} ${s.status}`).join("\n");
    const ipOf = (server: Server) => server.addresses["herd-net"]?.[0]?.addr;

    async function serverGroupMembers(): Promise<string[]> {
        const { server_groups: groups } = await cloud.get<{ server_groups: { name: string; members: string[] }[] }>("compute", "os-server-groups", COMPUTE);
        const found = groups.filter((g) => g.name === GROUP);
        expect(found, `server groups named ${GROUP}`).to.have.length(1);
        return [...found[0].members].sort();
    }

    async function poolAddresses(): Promise<string[]> {
        const { pools } = await cloud.get<{ pools: { id: string }[] }>("load-balancer", `v2/lbaas/pools?name=${GROUP}`);
        expect(pools, `pools named ${GROUP}`).to.have.length(1);
        const { members } = await cloud.get<{ members: { address: string }[] }>("load-balancer", `v2/lbaas/pools/${pools[0].id}/members`);
        return members.map((m) => m.address).sort();
    }

    /**
     * The alert herd's `HerdMemberDown` rule fires for `victim`, proven with `promtool test rules`
     * on the stack's exported rule file: the `up` series of every member as the README's scrape
     * config labels it, the victim's at 0 from the first minute; at 7 minutes the rule fires for it
     * alone, with exactly these labels and annotations, and `HerdFleetBelowMinHealthy` does not.
     */
    function memberDownAlert(list: Server[], victim: Server): PostedAlert {
        const work = path.join(copy.work, "rules");
        fs.mkdirSync(work, { recursive: true });
        const rules = JSON.parse(ok(copy.cli("stack", "output", "alertRules", "--stack", STACK, "--json"), "pulumi stack output alertRules").stdout) as string;
        fs.writeFileSync(path.join(work, "rules.yml"), rules);
        const labelsOf = (s: Server) => ({
            job: "herd",
            instance: `${ipOf(s)}:9100`,
            herd_stack: s.metadata["herd-stack"],
            herd_fleet: s.metadata["herd-fleet"],
            herd_slot: s.metadata["herd-slot"],
            herd_generation: s.metadata["herd-generation"],
        });
        const series = (labels: Record<string, string>) => `up{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",")}}`;
        const labels = labelsOf(victim);
        const alert: PostedAlert = {
            labels: { alertname: "HerdMemberDown", ...labels, severity: "warning" },
            annotations: {
                summary: `Member ${VICTIM} of fleet ${FLEET} (${STACK}) is down`,
                description: `${labels.instance}, generation ${labels.herd_generation}, has been down for 5m.`,
            },
        };
        const unitTest = {
            rule_files: ["rules.yml"],
            evaluation_interval: "1m",
            tests: [
                {
                    interval: "1m",
                    input_series: list.map((s) => ({ series: series(labelsOf(s)), values: s === victim ? "1 0x10" : "1x10" })),
                    alert_rule_test: [
                        { eval_time: "7m", alertname: "HerdMemberDown", exp_alerts: [{ exp_labels: alert.labels, exp_annotations: alert.annotations }] },
                        { eval_time: "7m", alertname: "HerdFleetBelowMinHealthy", exp_alerts: [] },
                    ],
                },
            ],
        };
        fs.writeFileSync(path.join(work, "test.yml"), YAML.stringify(unitTest));
        const checked = spawnSync("promtool", ["test", "rules", "test.yml"], { cwd: work, encoding: "utf8" });
        expect(checked.status, `promtool test rules:\n${checked.stdout}${checked.stderr}`).to.equal(0);
        return alert;
    }

    before(async function () {
        const engine = engineDir();
        box = await openBox(engine);
        cloud = box.cloud;
        copy = new EngineProject(engine, { ...box.env });
        fs.writeFileSync(copy.stackFile(STACK), STACK_FILE);
        copy.initStack(STACK);
        processes = new TestProcesses(copy.work, copy.project, copy.env);
    });

    after(async function () {
        await processes?.stop();
        if (copy) {
            copy.pulumi("destroy", "--stack", STACK, "--yes", "--skip-preview");
        }
        box?.stop();
        copy?.remove();
    });

    it("replaces exactly the member in ERROR: a new ACTIVE server in the slot, the server group and the pool; the others keep their IDs", async function () {
        const t0 = Date.now();
        copy.up(STACK);
        const upDone = Date.now();
        const before = await servers();
        expect(before.map((s) => [s.metadata["herd-slot"], s.status]), await table()).to.deep.equal([...Array(SIZE).keys()].map((slot) => [String(slot), "ACTIVE"]));
        expect(await serverGroupMembers()).to.deep.equal(before.map((s) => s.id).sort());
        expect(await poolAddresses()).to.deep.equal(before.map(ipOf).sort());
        const victim = before[VICTIM];
        const alert = memberDownAlert(before, victim);

        const robot: RobotBehindAlertmanager = await startRobotBehindAlertmanager(processes, {
            work: copy.work,
            projectDir: copy.project,
            stack: STACK,
            token: TOKEN,
            waits: { group_wait: "1s", group_interval: "1s", repeat_interval: "1m" },
        });
        await robot.ready();

        // `openstack server set --state error`, through Nova's admin API.
        const reset = await box.admin.request("compute", "POST", `servers/${victim.id}/action`, { "os-resetState": { state: "error" } });
        expect(reset.status, JSON.stringify(reset.body)).to.equal(202);
        expect((await servers()).find((s) => s.id === victim.id)?.status).to.equal("ERROR");
        const broken = Date.now();

        // Prometheus's part: the alert the rule fires, posted as Prometheus posts it (it resends a
        // firing alert with an end a few minutes ahead).
        const posted = await fetch(`${robot.alertmanager}/api/v2/alerts`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify([
                { ...alert, startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 4 * 60_000).toISOString(), generatorURL: "http://127.0.0.1:9090/graph" },
            ]),
        });
        expect(posted.status).to.equal(200);

        await until("the robot's action to end", () => robot.entries().some((e) => e.event === "action" && e.outcome !== undefined), 300_000);
        const acted = Date.now();
        const action = robot.entries().find((e) => e.event === "action");
        expect(action, JSON.stringify(robot.entries(), null, 1)).to.deep.include({ decision: "heal", outcome: "done", stack: STACK, fleet: FLEET, slot: String(VICTIM) });
        // The member and, through its address, its pool member: nothing else.
        expect(action?.reason).to.match(new RegExp(`^replaced urn:pulumi:${STACK}::herd::herd:openstack:ServerGroup\\$openstack:compute/instance:Instance::${FLEET}-${VICTIM} through pulumi up \\(2 replace\\)$`));
        // One decision to heal; Alertmanager's repeats of the alert while the robot works are duplicates.
        const decided = robot.entries().filter((e) => e.event === "alert");
        expect(decided.filter((e) => e.decision !== "ignore").map((e) => [e.alertname, e.alertStatus, e.stack, e.fleet, e.slot, e.decision])).to.deep.equal([
            ["HerdMemberDown", "firing", STACK, FLEET, String(VICTIM), "heal"],
        ]);
        expect(decided.filter((e) => e.decision === "ignore").every((e) => e.reason?.startsWith("duplicate:")), JSON.stringify(decided, null, 1)).to.equal(true);
        expect(robot.entries().filter((e) => e.event === "refused")).to.deep.equal([]);

        // Nova: the slot has a new ACTIVE server of the same generation; the old one is gone; the others are as they were.
        const after = await servers();
        expect(after.map((s) => s.status), await table()).to.deep.equal(Array(SIZE).fill("ACTIVE"));
        const healed = after[VICTIM];
        expect(healed.id).to.not.equal(victim.id);
        expect(healed.metadata["herd-slot"]).to.equal(String(VICTIM));
        expect(healed.name).to.equal(victim.name);
        expect(after.filter((s) => s !== healed).map((s) => s.id)).to.deep.equal(before.filter((s) => s !== victim).map((s) => s.id));
        const gone = await cloud.request("compute", "GET", `servers/${victim.id}`, undefined, COMPUTE);
        expect(gone.status, `the server put into ERROR: ${JSON.stringify(gone.body)}`).to.equal(404);
        expect(await serverGroupMembers()).to.deep.equal(after.map((s) => s.id).sort());
        // Octavia: the pool follows, the new server's address in, the old one's out.
        expect(await poolAddresses()).to.deep.equal(after.map(ipOf).sort());

        // The engine's state is the cloud's: a preview plans no change. The timeline tells it.
        const plan = copy.preview(STACK);
        expect(changes(plan), `expected no changes:\n${summary(plan)}`).to.deep.equal([]);
        const timeline = ok(copy.herd("timeline", "--stack", STACK, "--since", "1h"), "herd timeline").stdout;
        expect(timeline).to.match(new RegExp(`HerdMemberDown firing on ${FLEET} member ${VICTIM}.*→ heal`));
        expect(timeline).to.match(new RegExp(`heal ${FLEET} member ${VICTIM} done: replaced urn:pulumi:${STACK}::`));
        console.log(
            `      pulumi up ${Math.round((upDone - t0) / 1000)} s; server put into ERROR → robot's replace done ${Math.round((acted - broken) / 1000)} s; ` +
                `whole test ${Math.round((Date.now() - t0) / 1000)} s`,
        );
    });
});
