import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { parseFleets, resolveFleets } from "../components/config";
import { probeAlert, probeCloudConfig, RUN_PROBE_SCRIPT, systemdDuration } from "../components/monitoring";
import { planMembers } from "../components/openstack";
import { PROJECT_DIR, runStack, stackConfig } from "./helpers/project";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "herd-probe-"));

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
