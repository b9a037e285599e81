import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { parseFleets } from "../components/fleet";
import { resolveFleets } from "../components/fleet";
import { buildProbeCronJobSpec } from "../components/kubernetes/probe";
import {
    cronSchedule,
    probeAlert,
    probeCloudConfig,
    PUSH_PROBE_SCRIPT,
    RUN_PROBE_SCRIPT,
    systemdDuration,
} from "../components/monitoring";
import { planMembers } from "../components/openstack";
import { PROJECT_DIR, runStack, stackConfig } from "./helpers/project";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "herd-probe-"));

async function freePort(): Promise<number> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
}

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (await check().catch(() => false)) {
            return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("timed out");
}

function shellcheck(file: string): { code: number | null; output: string } {
    const result = spawnSync("shellcheck", ["--shell=sh", file], { encoding: "utf8" });
    return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("probes", () => {
    const probe = { name: "oom_kills", script: "#!/bin/sh\necho 3\n", every: "5m" };

    it("install as a systemd service and timer per probe, behind one wrapper", () => {
        const { writeFiles, runcmd } = probeCloudConfig([probe], "/var/lib/prometheus/node-exporter");
        const paths = writeFiles.map((f) => (f as { path: string }).path);
        expect(paths).to.deep.equal([
            "/usr/local/lib/herd/run-probe",
            "/usr/local/lib/herd/probes/oom_kills",
            "/etc/systemd/system/herd-probe-oom_kills.service",
            "/etc/systemd/system/herd-probe-oom_kills.timer",
        ]);
        const timer = (writeFiles[3] as { content: string }).content;
        expect(timer).to.contain("OnUnitActiveSec=5min");
        expect(runcmd).to.deep.equal([["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "herd-probe-oom_kills.timer"]]);
        expect(probeCloudConfig([], "/x")).to.deep.equal({ writeFiles: [], runcmd: [] });
    });

    it("refuse schedules systemd would not read", () => {
        expect(systemdDuration("30s")).to.equal("30s");
        expect(systemdDuration("1h")).to.equal("1h");
        expect(() => systemdDuration("5 minutes")).to.throw('probe schedule must be a duration such as 30s, 5m or 1h, got "5 minutes"');
    });

    it("publish the count through the wrapper, and a failing probe as herd_probe_success 0", () => {
        const dir = tmp();
        const probes = path.join(dir, "probes");
        const textfiles = path.join(dir, "textfile");
        fs.mkdirSync(probes);
        fs.mkdirSync(textfiles);
        const wrapper = path.join(dir, "run-probe");
        fs.writeFileSync(wrapper, RUN_PROBE_SCRIPT, { mode: 0o755 });
        fs.writeFileSync(path.join(probes, "counts"), "#!/bin/sh\necho 3\n", { mode: 0o755 });
        fs.writeFileSync(path.join(probes, "broken"), "#!/bin/sh\necho oops\nexit 2\n", { mode: 0o755 });
        const env = { ...process.env, HERD_PROBE_DIR: probes };
        execFileSync("sh", [wrapper, "counts", "herd_probe_counts", textfiles], { env });
        execFileSync("sh", [wrapper, "broken", "herd_probe_broken", textfiles], { env });
        expect(fs.readFileSync(path.join(textfiles, "herd_probe_counts.prom"), "utf8")).to.equal(
            '# TYPE herd_probe_counts gauge\nherd_probe_counts 3\nherd_probe_success{probe="counts"} 1\n',
        );
        expect(fs.readFileSync(path.join(textfiles, "herd_probe_broken.prom"), "utf8")).to.equal(
            '# TYPE herd_probe_broken gauge\nherd_probe_broken 0\nherd_probe_success{probe="broken"} 0\n',
        );
        expect(fs.readdirSync(textfiles).sort()).to.deep.equal(["herd_probe_broken.prom", "herd_probe_counts.prom"]);
    });

    it("pass shellcheck: the wrapper and every shell probe in the repository", () => {
        const dir = tmp();
        const wrapper = path.join(dir, "run-probe");
        fs.writeFileSync(wrapper, RUN_PROBE_SCRIPT);
        const files = [wrapper, ...fs.readdirSync(path.join(PROJECT_DIR, "probes")).filter((f) => f.endsWith(".sh")).map((f) => path.join(PROJECT_DIR, "probes", f))];
        expect(files.length).to.be.greaterThan(1);
        for (const file of files) {
            const result = shellcheck(file);
            expect(result.code, `${file}\n${result.output}`).to.equal(0);
        }
        const sloppy = path.join(dir, "sloppy.sh");
        fs.writeFileSync(sloppy, "#!/bin/sh\nrm -rf $1/*\n");
        expect(shellcheck(sloppy).code).to.not.equal(0);
    });

    it("get an alert labelled with stack, fleet and probe", () => {
        expect(probeAlert(probe, "prod", "web")).to.deep.equal({
            alert: "HerdProbeOomKills",
            expr: 'max by (herd_stack, herd_fleet) (herd_probe_oom_kills{herd_stack="prod",herd_fleet="web"}) > 0',
            for: "5m",
            labels: { herd_stack: "prod", herd_fleet: "web", herd_probe: "oom_kills", severity: "warning" },
            annotations: { summary: "Probe oom_kills counts failures on fleet web (prod)" },
        });
    });

    it("from the prod stack reach the members' user data, which still passes cloud-init schema", () => {
        const [web] = resolveFleets(stackConfig("prod")["herd:fleets"], { stack: "prod", projectDir: PROJECT_DIR });
        if (web.backend !== "openstack") {
            throw new Error(`expected the prod web fleet on openstack, got ${web.backend}`);
        }
        const [member] = planMembers("web", { ...web.args, size: 1, rollout: undefined, securityGroupName: "g" });
        expect(member.userData).to.contain("herd-probe-nginx_worker_crashes.timer");
        const file = path.join(tmp(), "user-data.yaml");
        fs.writeFileSync(file, member.userData);
        expect(execFileSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" })).to.contain("Valid cloud-config");
    });

    it("from the prod stack are in its rule file", async () => {
        const run = await runStack("prod");
        expect(run.outputs.alertRules).to.contain("alert: HerdProbeNginxWorkerCrashes");
    });

    it("are validated: a missing script, a script without shebang, a bad schedule", () => {
        const fleet = (probes: unknown) => ({ web: { backend: "openstack", size: 1, release: { image: "i", flavor: "f", network: "n" }, probes } });
        expect(() => parseFleets(fleet({ x: { script: "a.sh", every: "often" } }), "dev")).to.throw(
            'herd:fleets.web.probes.x.every = "often": expected how often it runs: a duration such as 30s, 5m or 1h',
        );
        expect(() => resolveFleets(fleet({ x: { script: "probes/none.sh", every: "1m" } }), { stack: "dev", projectDir: PROJECT_DIR })).to.throw(
            'herd:fleets.web.probes.x.script = "probes/none.sh": expected a script relative to the project directory',
        );
        expect(() =>
            resolveFleets(fleet({ x: { script: "p.sh", every: "1m" } }), { stack: "dev", projectDir: "/p", readFile: () => "echo 1\n" }),
        ).to.throw('herd:fleets.web.probes.x.script = "p.sh": expected a script that starts with a shebang line such as #!/bin/sh');
    });
});

describe("probes of container fleets", () => {
    const script = "#!/bin/sh\necho 2\n";
    const api = {
        backend: "kubernetes",
        namespace: "api",
        size: 3,
        release: { image: "registry.example.org/api@sha256:" + "a".repeat(64), port: 8080 },
        health: { path: "/ready", port: 8080 },
        probes: { stuck_jobs: { script: "probes/nginx_worker_crashes.sh", every: "5m" } },
    };
    const cache = {
        backend: "docker",
        size: 1,
        release: { image: "docker.io/library/redis:7" },
        probes: { evictions: { script: "probes/nginx_worker_crashes.sh", every: "30s" } },
    };
    const monitoring = { pushgateway: "http://pushgateway.monitoring:9091" };

    it("schedule Kubernetes CronJobs only at intervals cron can repeat evenly", () => {
        expect(["1m", "5m", "15m", "1h", "6h"].map(cronSchedule)).to.deep.equal(["* * * * *", "*/5 * * * *", "*/15 * * * *", "0 * * * *", "0 */6 * * *"]);
        for (const every of ["30s", "7m", "5h"]) {
            expect(() => cronSchedule(every)).to.throw("a scheduled probe runs every N minutes (N dividing 60) or N hours (N dividing 24)");
        }
    });

    it("run on Kubernetes as a locked-down CronJob that pushes to the Pushgateway, and validate against the Kubernetes schema", async () => {
        const run = await runStack("test", { "herd:fleets": { api }, "herd:monitoring": monitoring });
        const probe = run.named("api-probe-stuck_jobs", "herd:monitoring:Probe");
        // Kubernetes names objects after these: a DNS label, so `stuck_jobs` becomes `stuck-jobs`.
        const cronJob = run.named("api-probe-stuck-jobs", "kubernetes:batch/v1:CronJob");
        expect(cronJob.options.parent).to.equal(probe.urn);
        const spec = cronJob.inputs.spec as ReturnType<typeof buildProbeCronJobSpec>;
        expect(spec.schedule).to.equal("*/5 * * * *");
        const container = spec.jobTemplate.spec.template.spec.containers[0];
        expect(container.command).to.deep.equal([
            "/herd/probes/push-probe",
            "stuck_jobs",
            "herd_probe_stuck_jobs",
            "http://pushgateway.monitoring:9091",
            "test",
            "api",
        ]);
        expect(container.securityContext).to.deep.equal({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        const configMap = run.named("api-probe-stuck-jobs-scripts", "kubernetes:core/v1:ConfigMap");
        expect(Object.keys(configMap.inputs.data as object).sort()).to.deep.equal(["push-probe", "stuck_jobs"]);
        const mounted = spec.jobTemplate.spec.template.spec.volumes[0].configMap;
        expect(mounted).to.deep.include({ defaultMode: 0o555 });
        // kubernetes-models is an ES module: a dynamic import, as in the workload tests.
        const { CronJob } = (await import("kubernetes-models/batch/v1/CronJob")) as unknown as { CronJob: new (data: unknown) => { validate(): void } };
        expect(() => new CronJob({ apiVersion: "batch/v1", kind: "CronJob", metadata: { name: "probe" }, spec }).validate()).to.not.throw();
        expect(() => new CronJob({ apiVersion: "batch/v1", kind: "CronJob", metadata: { name: "probe" }, spec: { ...spec, schedule: 5 } }).validate()).to.throw();
        const rule = run.named("api-monitoring-rules", "kubernetes:monitoring.coreos.com/v1:PrometheusRule");
        expect(JSON.stringify(rule.inputs)).to.contain("HerdProbeStuckJobs");
    });

    it("run on Docker as a container of the fleet's network, replaced when the script changes", async () => {
        const run = await runStack("test", { "herd:fleets": { cache }, "herd:monitoring": monitoring });
        const container = run.named("cache-probe-evictions", "docker:index/container:Container");
        expect(container.inputs.name).to.match(/^cache-probe-evictions-[0-9a-f]{8}$/);
        // The wrapper and its arguments follow the loop as data ("$@"), never inside the shell text.
        expect(container.inputs.command).to.deep.equal([
            "sh",
            "-c",
            'while true; do "$@" || true; sleep 30; done',
            "sh",
            "/herd/probes/push-probe",
            "evictions",
            "herd_probe_evictions",
            "http://pushgateway.monitoring:9091",
            "test",
            "cache",
        ]);
        expect((container.inputs.uploads as { file: string; executable: boolean }[]).map((u) => [u.file, u.executable])).to.deep.equal([
            ["/herd/probes/evictions", true],
            ["/herd/probes/push-probe", true],
        ]);
        expect(container.options.replaceOnChanges).to.include.members(["uploads", "command"]);
        expect(container.options.provider).to.contain("cache-provider");
        expect(run.outputs.alertRules).to.contain("alert: HerdProbeEvictions");
    });

    it("need a Pushgateway, and Kubernetes probes a cron-able interval", () => {
        expect(() => resolveFleets({ api, cache }, { stack: "prod", projectDir: PROJECT_DIR })).to.throw(
            "herd:monitoring.pushgateway is missing: required, the URL of a Prometheus Pushgateway: probes of kubernetes fleet api (stuck_jobs) push their counts there",
        );
        const every30s = { ...api, probes: { stuck_jobs: { script: "probes/nginx_worker_crashes.sh", every: "30s" } } };
        expect(() => resolveFleets({ api: every30s }, { stack: "prod", projectDir: PROJECT_DIR, pushgateway: monitoring.pushgateway })).to.throw(
            'herd:fleets.api.probes.stuck_jobs.every = "30s": expected a scheduled probe runs every N minutes (N dividing 60) or N hours (N dividing 24)',
        );
    });

    it("push their count to a real Pushgateway through the wrapper, which passes shellcheck", async function () {
        this.timeout(30_000);
        const dir = tmp();
        const wrapper = path.join(dir, "push-probe");
        fs.writeFileSync(wrapper, PUSH_PROBE_SCRIPT, { mode: 0o755 });
        expect(shellcheck(wrapper).code, shellcheck(wrapper).output).to.equal(0);
        fs.writeFileSync(path.join(dir, "stuck_jobs"), script, { mode: 0o755 });
        const port = await freePort();
        const pushgateway = spawn("prometheus-pushgateway", [`--web.listen-address=127.0.0.1:${port}`], { stdio: "ignore" });
        try {
            const url = `http://127.0.0.1:${port}`;
            await until(async () => (await fetch(`${url}/-/ready`)).ok);
            execFileSync("sh", [wrapper, "stuck_jobs", "herd_probe_stuck_jobs", url, "prod", "api"], { env: { ...process.env, HERD_PROBE_DIR: dir, TMPDIR: dir } });
            const metrics = await (await fetch(`${url}/metrics`)).text();
            expect(metrics).to.match(/^herd_probe_stuck_jobs\{herd_fleet="api",herd_stack="prod",instance="",job="herd_probe",probe="stuck_jobs"\} 2$/m);
            expect(metrics).to.match(/^herd_probe_success\{herd_fleet="api",herd_stack="prod",instance="",job="herd_probe",probe="stuck_jobs"\} 1$/m);
            expect(fs.readdirSync(dir).sort()).to.deep.equal(["push-probe", "stuck_jobs"]);
        } finally {
            pushgateway.kill("SIGTERM");
        }
    });
});
