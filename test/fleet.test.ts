import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import * as YAML from "yaml";
import { alertRuleFile, buildFleet, stackProgram, type DockerFleetArgs, type FleetArgs, type KubernetesFleetArgs, type OpenStackFleetArgs } from "../components";
import { fleetProblems } from "../components/fleet/backends";
import { KubernetesWorkload } from "../components/kubernetes";
import { ServerGroup } from "../components/openstack";
import { ProgramError, runProgram, type ProgramRun, type RecordedResource } from "../components/testing";

const ROOT = path.join(__dirname, "..");
const IMAGE = "registry.example.org/api@sha256:5b0e8c1f3a2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";
const PUSHGATEWAY = "http://pushgateway.monitoring:9091";
const PROBE = { name: "stuck_jobs", script: "#!/bin/sh\necho 0\n", every: "5m" };

const openstackArgs: OpenStackFleetArgs = {
    backend: "openstack",
    size: 3,
    release: { image: "6d1f0b7e-2c4a-4e8b-9f3d-5a7c1e9b2d40", flavor: "b3-8", networks: ["ext-net"] },
    health: { path: "/healthz", port: 80 },
    probes: [PROBE],
};
const kubernetesArgs: KubernetesFleetArgs = {
    backend: "kubernetes",
    namespace: "api",
    size: 4,
    release: { image: IMAGE, port: 8080 },
    health: { path: "/ready", port: 8080 },
    alerts: { minHealthy: 2 },
    probes: [PROBE],
    pushgateway: PUSHGATEWAY,
    monitoringLabels: { release: "kube-prometheus-stack" },
};
const dockerArgs: DockerFleetArgs = { backend: "docker", size: 2, release: { image: IMAGE, port: 8080 }, probes: [PROBE], pushgateway: PUSHGATEWAY };

const PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule";
const alertNames = (rules: readonly { alert: string }[]) => rules.map((rule) => rule.alert);

/** Runs `build` under mocks; the failure, with what was registered before it, when it throws. */
async function failureOf(build: () => unknown): Promise<ProgramError> {
    const failure = await runProgram({ program: build, stack: "test", config: {} }).then(
        () => undefined,
        (err: unknown) => err,
    );
    expect(failure).to.be.instanceOf(ProgramError);
    return failure as ProgramError;
}

describe("buildFleet: a fleet built in code is monitored from birth", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram({
            program: () => {
                const fleets = [buildFleet("edge", openstackArgs), buildFleet("api", kubernetesArgs), buildFleet("cache", dockerArgs)];
                return { alertRules: alertRuleFile(fleets), groups: fleets.map((fleet) => fleet.ruleGroup.name) };
            },
            stack: "test",
            config: {},
        });
    });

    it("on Kubernetes: a PrometheusRule with the default, probe and canary alerts, a PodMonitor, and the probe's CronJob, all in the fleet's namespace", () => {
        const monitoring = run.named("api-monitoring", "herd:kubernetes:Monitoring");
        const rule = run.named("api-monitoring-rules", PROMETHEUS_RULE);
        expect(rule.options.parent).to.equal(monitoring.urn);
        expect(rule.inputs.metadata).to.deep.include({ namespace: "api" });
        expect((rule.inputs.metadata as { labels: Record<string, string> }).labels).to.include({ release: "kube-prometheus-stack" });
        const [group] = (rule.inputs.spec as { groups: { name: string; rules: { alert: string; expr: string }[] }[] }).groups;
        expect(group.name).to.equal("herd-test-api");
        expect(alertNames(group.rules)).to.deep.equal(["HerdFleetBelowMinHealthy", "HerdMemberDown", "HerdProbeStuckJobs", "HerdCanaryRestarts", "HerdCanaryErrorRate"]);
        // alerts.minHealthy given in code is the threshold.
        expect(group.rules[0].expr).to.match(/ < 2$/);
        expect(run.named("api-monitoring-pods", "kubernetes:monitoring.coreos.com/v1:PodMonitor").inputs.metadata).to.deep.include({ namespace: "api" });
        const cronJob = run.named("api-probe-stuck-jobs", "kubernetes:batch/v1:CronJob");
        expect(cronJob.options.parent).to.equal(run.named("api-probe-stuck_jobs", "herd:monitoring:Probe").urn);
        expect(JSON.stringify(cronJob.inputs.spec)).to.include(PUSHGATEWAY);
        expect(cronJob.inputs.metadata).to.deep.include({ namespace: "api" });
    });

    it("on OpenStack: the probe runs on every member and has its alert beside the default ones", () => {
        expect(run.named("edge-probe-stuck_jobs", "herd:monitoring:Probe").options.parent).to.equal(undefined);
        for (const server of run.ofType("openstack:compute/instance:Instance")) {
            expect(server.inputs.userData).to.include("stuck_jobs");
        }
    });

    it("on Docker: the probe runs as a container on the fleet's Docker engine, through the workload's provider", () => {
        const container = run.named("cache-probe-stuck_jobs", "docker:index/container:Container");
        const member = run.named("cache-0", "docker:index/container:Container");
        expect(container.options.provider).to.be.a("string").and.equal(member.options.provider);
        expect(JSON.stringify(container.inputs.command)).to.include(PUSHGATEWAY);
    });

    it("gives the OpenStack and Docker fleets' alerts as one rule file that promtool accepts; the Kubernetes fleet's are in its PrometheusRule", () => {
        const file = run.outputs.alertRules as string;
        const groups = (YAML.parse(file) as { groups: { name: string; rules: { alert: string; expr: string }[] }[] }).groups;
        expect(groups.map((group) => group.name)).to.deep.equal(["herd-test-edge", "herd-test-cache"]);
        expect(run.outputs.groups).to.deep.equal(["herd-test-edge", "herd-test-api", "herd-test-cache"]);
        for (const group of groups) {
            expect(alertNames(group.rules)).to.deep.equal(["HerdFleetBelowMinHealthy", "HerdMemberDown", "HerdProbeStuckJobs"]);
        }
        // No alerts.minHealthy: the size minus one update batch (3 - 1, 2 - 1).
        expect(groups.map((group) => group.rules[0].expr.replace(/^.* < /, ""))).to.deep.equal(["2", "1"]);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-fleet-rules-"));
        try {
            fs.writeFileSync(path.join(dir, "rules.yml"), file);
            const check = spawnSync("promtool", ["check", "rules", "rules.yml"], { cwd: dir, encoding: "utf8" });
            expect(check.error, "promtool on the PATH").to.equal(undefined);
            expect(check.status, `${check.stdout}${check.stderr}`).to.equal(0);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("buildFleet keeps the URNs of a fleet built with its bare workload", () => {
    const urnsAndInputs = (run: ProgramRun, keep: (r: RecordedResource) => boolean) =>
        run.resources.filter(keep).map((r) => ({ urn: r.urn, inputs: r.inputs, options: r.options }));

    it("OpenStack: the ServerGroup and everything in it are the same resources; the probe is added beside it", async () => {
        const { backend: _, ...args } = openstackArgs;
        const bare = await runProgram({ program: () => void new ServerGroup("edge", args), stack: "test", config: {} });
        const built = await runProgram({ program: () => void buildFleet("edge", openstackArgs), stack: "test", config: {} });
        const fromWorkload = (r: RecordedResource) => r.type !== "herd:monitoring:Probe";
        expect(urnsAndInputs(built, fromWorkload)).to.deep.equal(urnsAndInputs(bare, () => true));
        expect(built.resources.filter((r) => !fromWorkload(r)).map((r) => r.name)).to.deep.equal(["edge-probe-stuck_jobs"]);
    });

    it("Kubernetes: the workload and everything in it are the same resources; monitoring and probes are added beside it", async () => {
        const { backend: _, alerts: _a, probes: _p, pushgateway: _g, monitoringLabels: _l, ...args } = kubernetesArgs;
        const bare = await runProgram({ program: () => void new KubernetesWorkload("api", args), stack: "test", config: {} });
        const built = await runProgram({ program: () => void buildFleet("api", kubernetesArgs), stack: "test", config: {} });
        const bareUrns = new Set(bare.resources.map((r) => r.urn));
        expect(urnsAndInputs(built, (r) => bareUrns.has(r.urn))).to.deep.equal(urnsAndInputs(bare, () => true));
        expect(built.resources.filter((r) => !bareUrns.has(r.urn) && !r.custom).map((r) => r.name)).to.deep.equal(["api-monitoring", "api-probe-stuck_jobs"]);
    });
});

describe("buildFleet refuses a bad argument from code before registering anything", () => {
    const cases: [string, FleetArgs, string][] = [
        ["a backend herd does not have", { ...dockerArgs, backend: "nomad" } as unknown as FleetArgs, 'backend = "nomad": expected openstack | kubernetes | docker'],
        ["a minimum of healthy members that is not a whole number", { ...openstackArgs, alerts: { minHealthy: 2.5 } }, "alerts.minHealthy = 2.5: expected a whole number ≥ 0"],
        ["a member-down delay Prometheus cannot read", { ...dockerArgs, alerts: { memberDownFor: "5 minutes" } }, 'alerts.memberDownFor = "5 minutes": expected a Prometheus duration such as 5m, 90s or 1h30m'],
        ["a member count that is no PromQL", { ...openstackArgs, alerts: { membersUp: "sum(up" } }, 'alerts.membersUp = "sum(up": expected a PromQL expression; this one has '],
        ["a probe schedule that is no duration", { ...kubernetesArgs, probes: [{ ...PROBE, every: "5x" }] }, 'probes[0].every = "5x": expected a duration from 1s to 24h, such as 30s, 5m or 1h'],
        [
            "a Kubernetes probe schedule cron cannot repeat evenly",
            { ...kubernetesArgs, probes: [{ ...PROBE, every: "7m" }] },
            'probes[0].every = "7m": expected a scheduled probe runs every N minutes (N dividing 60) or N hours (N dividing 24)',
        ],
        [
            "two probes of one name",
            { ...dockerArgs, probes: [PROBE, { ...PROBE, every: "1m" }] },
            'probes[1].name = "stuck_jobs": expected a name no other probe of the fleet has (probes[0] has it)',
        ],
        ["container probes without a Pushgateway", { ...dockerArgs, pushgateway: undefined }, "pushgateway is missing: required, the URL of a Prometheus Pushgateway: the probes of a docker fleet push their counts there"],
        [
            "a Pushgateway URL with a query",
            { ...kubernetesArgs, pushgateway: "http://pg:9091/?x=1" },
            "pushgateway = \"http://pg:9091/?x=1\": expected an http:// or https:// URL of a host (name or IP), an optional port and path, without user, query, fragment or trailing '/'",
        ],
        ["a monitoring label value Kubernetes refuses", { ...kubernetesArgs, monitoringLabels: { release: "kube prometheus" } }, "monitoringLabels.release = \"kube prometheus\": expected a label value: at most 63 letters, digits, '-', '_' or '.'"],
        ["a stack name that would break the alerts' PromQL", { ...openstackArgs, stack: 'prod"}' }, "stack = \"prod\\\"}\": expected a Pulumi stack name: letters, digits, '-', '_' and '.', at most 100 characters"],
    ];
    for (const [what, args, line] of cases) {
        it(`${what}: ${line.slice(0, 40)}…`, () => {
            const problems = fleetProblems("web", args);
            expect(problems).to.have.length(1);
            expect(problems[0]).to.satisfy((problem: string) => (line.endsWith(" ") ? problem.startsWith(line) : problem === line), problems[0]);
        });
    }

    it("under pulumi up, as one RunError naming the fleet, with every problem, and no resource registered", async () => {
        const failure = await failureOf(() => buildFleet("api", { ...kubernetesArgs, alerts: { minHealthy: -1 }, probes: [{ ...PROBE, every: "7m" }] }));
        expect(failure.message).to.equal(
            [
                'Fleet "api": invalid arguments:',
                "  - alerts.minHealthy = -1: expected a whole number ≥ 0",
                '  - probes[0].every = "7m": expected a scheduled probe runs every N minutes (N dividing 60) or N hours (N dividing 24)',
            ].join("\n"),
        );
        expect(pulumi.RunError.isInstance(failure.cause)).to.equal(true);
        expect(failure.resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).to.deep.equal([]);
    });

    it("a bad name, in the stack config's words", () => {
        expect(fleetProblems("Web", openstackArgs)).to.deep.equal([
            'name = "Web": expected a fleet name: lowercase letters, digits and \'-\', starting with a letter, at most 30 characters',
        ]);
    });

    it("the workload's own arguments, checked by its component before the fleet registers anything", async () => {
        const failure = await failureOf(() => buildFleet("cache", { ...dockerArgs, size: 2.5 }));
        expect(failure.message).to.match(/^DockerWorkload "cache": invalid arguments:\n {2}- size = 2\.5: /);
        expect(failure.resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).to.deep.equal([]);
    });
});

describe("the package loads only the provider SDK of the backend a fleet uses", () => {
    it("none on importing the package root, then @pulumi/openstack alone for an OpenStack fleet", function () {
        this.timeout(60_000);
        const script = `
            const loaded = () => [...new Set(Object.keys(require.cache).flatMap((file) => {
                const sdk = /node_modules\\/@pulumi\\/(openstack|kubernetes|docker)\\//.exec(file);
                return sdk ? [sdk[1]] : [];
            }))].sort();
            const { buildFleet } = require("./components");
            const { runProgram } = require("./components/testing");
            const onImport = loaded();
            runProgram({ program: () => void buildFleet("edge", ${JSON.stringify(openstackArgs)}), stack: "test", config: {} })
                .then(() => console.log(JSON.stringify({ onImport, afterBuild: loaded() })));
        `;
        const result = spawnSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: ROOT, encoding: "utf8" });
        expect(result.status, result.stderr).to.equal(0);
        expect(JSON.parse(result.stdout)).to.deep.equal({ onImport: [], afterBuild: ["openstack"] });
    });

    it("nor zod or yaml on importing the package root: they load with the first stack config checked or document read", function () {
        this.timeout(60_000);
        const script = `
            const loaded = () => ["zod", "yaml"].filter((name) => Object.keys(require.cache).some((file) => file.includes("/node_modules/" + name + "/")));
            const { parseFleets } = require("./components");
            const onImport = loaded();
            parseFleets({ web: { backend: "docker", size: 1, release: { image: "nginx@sha256:${"a".repeat(64)}" } } }, "dev");
            console.log(JSON.stringify({ onImport, afterCheck: loaded() }));
        `;
        const result = spawnSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: ROOT, encoding: "utf8" });
        expect(result.status, result.stderr).to.equal(0);
        expect(JSON.parse(result.stdout)).to.deep.equal({ onImport: [], afterCheck: ["zod"] });
    });
});

describe("stackProgram: the stack-config-driven program, as a function another project can call", () => {
    /** A project folder of its own: a stack file and the probe script its config names. */
    function project(): string {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-stack-program-"));
        fs.mkdirSync(path.join(dir, "probes"));
        fs.writeFileSync(path.join(dir, "probes", "stuck.sh"), "#!/bin/sh\necho 0\n");
        fs.writeFileSync(path.join(dir, "Pulumi.test.yaml"), "config: {}\n");
        return dir;
    }
    const fleets = {
        edge: { backend: "openstack", size: 3, release: { image: openstackArgs.release.image, flavor: "b3-8", network: "ext-net" }, probes: { stuck: { script: "probes/stuck.sh", every: "5m" } } },
        cache: { backend: "docker", size: 2, release: { image: IMAGE, port: 8080 } },
    };

    it("registers what herd's own index.ts registers for the same config, and returns its outputs", async () => {
        const dir = project();
        try {
            const own = await runProgram({ program: () => stackProgram({ projectDir: dir }), projectDir: dir, stack: "test", config: { "herd:fleets": fleets } });
            const copy = path.join(dir, "index-copy");
            fs.mkdirSync(copy);
            fs.cpSync(path.join(dir, "probes"), path.join(copy, "probes"), { recursive: true });
            fs.cpSync(path.join(dir, "Pulumi.test.yaml"), path.join(copy, "Pulumi.test.yaml"));
            // index.ts reads the files of the project root it runs in: the copy, not its own folder.
            const viaIndex = await runProgram({ program: path.join(ROOT, "index.ts"), projectDir: copy, stack: "test", config: { "herd:fleets": fleets } });
            const shape = (run: ProgramRun) => run.resources.map((r) => ({ urn: r.urn, inputs: r.inputs }));
            expect(shape(own)).to.deep.equal(shape(viaIndex));
            expect(own.resources.filter((r) => r.type === "openstack:compute/instance:Instance")).to.have.length(3);
            expect(Object.keys(own.outputs.fleets as object)).to.deep.equal(["edge", "cache"]);
            expect((own.outputs.fleets as Record<string, { backend: string }>).cache.backend).to.equal("docker");
            expect(own.outputs.alertRules).to.be.a("string").and.include("HerdProbeStuck");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("reads the files the config names from the project folder it is given, and refuses one outside it before registering anything", async () => {
        const dir = project();
        try {
            const escaping = { edge: { ...fleets.edge, probes: { stuck: { script: "../stuck.sh", every: "5m" } } } };
            const failure = await runProgram({ program: () => stackProgram({ projectDir: dir }), projectDir: dir, stack: "test", config: { "herd:fleets": escaping } }).then(
                () => expect.fail("expected the config to be refused"),
                (err: ProgramError) => err,
            );
            expect(String(failure.cause)).to.include("herd:fleets.edge.probes.stuck.script").and.include("../stuck.sh");
            expect(failure.resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).to.deep.equal([]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
