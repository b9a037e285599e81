/**
 * The robot behind the real Alertmanager (Debian's prometheus-alertmanager, on 127.0.0.1, with
 * clustering off): the sample configuration passes `amtool check-config`, and alerts posted to
 * Alertmanager's API reach the robot through that route, authenticated, as Alertmanager's own
 * webhook JSON, are acted on once however often Alertmanager sends them again, and a receiver
 * with the wrong token gets nothing done.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import * as YAML from "yaml";
import { runRobot } from "../components/cli/robot";
import { ActionOutcome, Executor, HealAction, readRobotLog } from "../components/robot";
import { freePort, until } from "./helpers/robot";
import { git, temporaryRepositories } from "./helpers/repository";

const SAMPLE = path.join(__dirname, "..", "examples", "robot", "alertmanager.yml");
const TOKEN = "0123456789abcdef0123456789abcdef";

function amtool(...args: string[]): { code: number | null; stdout: string; output: string } {
    const result = spawnSync("amtool", args, { encoding: "utf8" });
    if (result.error) {
        throw new Error(`amtool (Debian package prometheus-alertmanager) is needed: ${result.error.message}`);
    }
    return { code: result.status, stdout: result.stdout, output: `${result.stdout}${result.stderr}` };
}

describe("robot: behind the real Alertmanager", function () {
    this.timeout(90_000);
    const newRepository = temporaryRepositories();
    let work: string;
    before(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), "herd-alertmanager-"))));
    after(() => fs.rmSync(work, { recursive: true, force: true }));

    it("ships a sample alertmanager.yml that passes `amtool check-config`, which can fail", () => {
        const checked = amtool("check-config", SAMPLE);
        expect(checked.code, checked.output).to.equal(0);
        const broken = path.join(work, "broken.yml");
        fs.writeFileSync(broken, fs.readFileSync(SAMPLE, "utf8").replace("receiver: herd-robot", "receiver: herd-robto"));
        expect(amtool("check-config", broken).code).to.not.equal(0);
    });

    it("routes to the robot exactly the alerts it acts on, and every alert to people (`amtool config routes test`)", () => {
        const routed = (...labels: string[]) => amtool("config", "routes", "test", `--config.file=${SAMPLE}`, ...labels).stdout.trim();
        expect(routed("alertname=HerdMemberDown", "herd_stack=prod", "herd_fleet=web", "herd_slot=3")).to.equal("herd-robot,people");
        expect(routed("alertname=HerdCanaryErrorRate", "herd_stack=prod", "herd_fleet=api")).to.equal("herd-robot,people");
        expect(routed("alertname=WebCanaryGateClosed", "herd_stack=prod", "herd_fleet=web", "herd_role=canary")).to.equal("herd-robot,people");
        // herd's own gate alert is labelled as the canary's too, and still reaches the robot once.
        expect(routed("alertname=HerdCanaryGateClosed", "herd_stack=prod", "herd_fleet=web", "herd_role=canary", "herd_generation=c0ffee42")).to.equal("herd-robot,people");
        expect(routed("alertname=HerdProbeNginxWorkerCrashes", "herd_stack=prod", "herd_fleet=web")).to.equal("people");
        expect(routed("alertname=HerdMemberDown")).to.equal("people");
    });

    it("routes herd's alerts to the robot, which replaces the member once, and lets no wrong token in", async () => {
        const dir = newRepository();
        const tokenFile = path.join(work, "robot-token");
        fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
        const wrongToken = path.join(work, "wrong-token");
        fs.writeFileSync(wrongToken, "ffffffffffffffffffffffffffffffff\n", { mode: 0o600 });
        const [robotPort, amPort] = [await freePort(), await freePort()];

        // The sample, pointed at this robot and token, with short waits; plus a receiver with the wrong token.
        const config = YAML.parse(fs.readFileSync(SAMPLE, "utf8"));
        const robotRoute = config.route.routes[0];
        Object.assign(robotRoute, { group_wait: "1s", group_interval: "1s", repeat_interval: "2s" });
        config.route.routes.unshift({ ...robotRoute, receiver: "impostor", matchers: ['herd_stack="forged"'], continue: false });
        const webhook = config.receivers[1].webhook_configs[0];
        webhook.url = `http://127.0.0.1:${robotPort}/alerts`;
        webhook.http_config.authorization.credentials_file = tokenFile;
        config.receivers.push({ name: "impostor", webhook_configs: [{ ...webhook, http_config: { authorization: { type: "Bearer", credentials_file: wrongToken } } }] });
        const configFile = path.join(work, "alertmanager.yml");
        fs.writeFileSync(configFile, YAML.stringify(config));
        expect(amtool("check-config", configFile).code).to.equal(0);

        const heals: HealAction[] = [];
        const executor: Executor = {
            heal: async (action): Promise<ActionOutcome> => (heals.push(action), { reason: `replaced ${action.fleet.name}-${action.slot}` }),
            rollback: async () => {
                throw new Error("no rollback expected");
            },
        };
        let stop = () => {};
        let out = "";
        const robot = runRobot(
            { stack: ["prod"], dir, program: path.join(__dirname, "..", "index.ts"), tokenFile, listen: `127.0.0.1:${robotPort}`, budget: "2", window: "1h", maxBody: "1048576" },
            { stdout: (text) => (out += text), stderr: () => {}, cwd: dir, fs },
            executor,
            new Promise<void>((resolve) => (stop = resolve)),
        );
        let alertmanager: ChildProcess | undefined;
        try {
            await until("the robot to listen", () => out.includes("listening on"));
            const started = Date.now();
            alertmanager = spawn(
                "prometheus-alertmanager",
                [`--config.file=${configFile}`, `--storage.path=${path.join(work, "data")}`, `--web.listen-address=127.0.0.1:${amPort}`, "--cluster.listen-address="],
                { stdio: ["ignore", "ignore", "pipe"] },
            );
            let amLog = "";
            alertmanager.stderr?.on("data", (chunk: Buffer) => (amLog += chunk.toString("utf8")));
            const api = `http://127.0.0.1:${amPort}`;
            await until("Alertmanager to be ready", async () => (await fetch(`${api}/-/ready`)).ok);
            const ready = Date.now() - started;

            // What Prometheus sends when herd's HerdMemberDown rule fires for slot 3 of prod's web fleet.
            const alert = (labels: Record<string, string>) => ({
                labels: { alertname: "HerdMemberDown", herd_stack: "prod", herd_fleet: "web", herd_slot: "3", herd_generation: "1a2b3c4d", severity: "warning", ...labels },
                annotations: { summary: `Member ${labels.herd_slot ?? "3"} of fleet web is down` },
                generatorURL: "http://127.0.0.1:9090/graph",
            });
            const posted = await fetch(`${api}/api/v2/alerts`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify([alert({}), alert({ herd_stack: "forged", herd_slot: "5" }), alert({ alertname: "HerdProbeNginxWorkerCrashes", herd_slot: "7" })]),
            });
            expect(posted.status).to.equal(200);

            const logFile = path.join(dir, ".herd", "robot.jsonl");
            const entries = () => readRobotLog(logFile).entries;
            await until("the robot to replace the member", () => entries().some((e) => e.event === "action" && e.outcome === "done"));
            const acted = Date.now() - started;
            // Alertmanager sends the group again (repeat_interval 2s): the same alert is a duplicate now.
            await until("a repeated notification", () => entries().some((e) => e.event === "alert" && e.reason?.startsWith("duplicate:")), 30_000);
            await until("the wrong token to be refused", () => entries().some((e) => e.event === "refused"), 30_000);

            expect(heals.map((h) => [h.stack, h.fleet.name, h.slot])).to.deep.equal([["prod", "web", "3"]]);
            const decided = entries().filter((e) => e.event === "alert");
            expect(decided.filter((e) => e.decision !== "ignore").map((e) => [e.alertname, e.fleet, e.slot, e.decision])).to.deep.equal([["HerdMemberDown", "web", "3", "heal"]]);
            expect(decided.filter((e) => e.stack !== "prod"), JSON.stringify(decided)).to.deep.equal([]);
            // The route sends the robot only the alerts it acts on.
            expect(decided.map((e) => e.alertname)).to.not.include("HerdProbeNginxWorkerCrashes");
            const refused = entries().filter((e) => e.event === "refused");
            expect(refused.every((e) => e.status === 401 && e.reason === "wrong credentials" && e.remote?.startsWith("127.0.0.1:"))).to.equal(true);
            expect(amLog).to.match(/unexpected status code 401/);
            // Nothing the robot did touched git: an action on a member leaves the stack file alone.
            expect(git(dir, "status", "--porcelain", "--", "Pulumi.prod.yaml")).to.equal("");
            console.log(`      Alertmanager ready in ${ready} ms; alert posted to member replaced in ${acted - ready} ms`);
        } finally {
            alertmanager?.kill("SIGTERM");
            stop();
            await robot;
        }
    });
});
