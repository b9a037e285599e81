import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { FLEET_BACKENDS, type BackendName } from "../components/fleet";
import { Probe, type ProbeArgs, type ProbeTarget } from "../components/monitoring";
import { probeObjectName } from "../components/kubernetes/probe";
import { ProgramError, runProgram, type ProgramRun } from "../components/testing";

const PUSHGATEWAY = "http://pushgateway.monitoring:9091";
const PROBE = { name: "stuck_jobs", script: "#!/bin/sh\necho 0\n", every: "5m" };

// A target is typed by its backend's runner, through the registry: these lines must compile, and
// the ones marked must not.
const TARGETS: Record<BackendName, ProbeTarget> = {
    openstack: { backend: "openstack" },
    kubernetes: { backend: "kubernetes", pushgateway: PUSHGATEWAY, namespace: "api", nodeSelector: { pool: "api" } },
    docker: { backend: "docker", pushgateway: PUSHGATEWAY, network: "cache-net" },
};
// @ts-expect-error a Kubernetes probe runs in a namespace, not on a Docker network
const _onNetwork: ProbeTarget = { backend: "kubernetes", pushgateway: PUSHGATEWAY, network: "cache-net" };
// @ts-expect-error a Docker probe pushes its count to a Pushgateway
const _nowhere: ProbeTarget = { backend: "docker" };
void [_onNetwork, _nowhere];

/** Builds one Probe on `backend` under mocks: what was registered, and the component. */
async function probeOn(backend: BackendName, target: ProbeTarget = TARGETS[backend]): Promise<{ run: ProgramRun; probe: Probe }> {
    let probe: Probe | undefined;
    const run = await runProgram({
        program: () => {
            probe = new Probe(`${backend}-probe-stuck_jobs`, { stack: "test", fleet: backend, probe: PROBE, target });
        },
        stack: "test",
        config: {},
    });
    return { run, probe: probe as Probe };
}

/** The types and names of a Probe's children, in URN order. */
function childrenOf(run: ProgramRun, backend: BackendName): string[] {
    return run.childrenOf(run.named(`${backend}-probe-stuck_jobs`, "herd:monitoring:Probe")).map((r) => `${r.type} ${r.name}`);
}

describe("Probe: the runner of the target's backend, from the fleet registry, registers what runs a probe", () => {
    const objectName = probeObjectName("kubernetes", "stuck_jobs");
    const expected: [BackendName, string[], string[]][] = [
        // Its members run it from their user data: the Probe only records it.
        ["openstack", [], []],
        ["kubernetes", [`kubernetes:batch/v1:CronJob ${objectName}`, `kubernetes:core/v1:ConfigMap ${objectName}-scripts`], ["configMap", "cronJob"]],
        ["docker", ["docker:index/container:Container docker-probe-stuck_jobs"], ["container"]],
    ];
    for (const [backend, children, roles] of expected) {
        it(`on ${backend}: ${roles.length === 0 ? "no child" : roles.join(" and ")}`, async () => {
            expect(FLEET_BACKENDS[backend].probeRunner === undefined).to.equal(children.length === 0);
            const { run, probe } = await probeOn(backend);
            expect(childrenOf(run, backend)).to.deep.equal(children);
            expect(Object.keys(probe.resources).sort()).to.deep.equal(roles);
        });
    }

    it("calls the registry entry's probeRunner with the Probe, its name, its args and its options", async () => {
        const entry = FLEET_BACKENDS.kubernetes as { probeRunner?: unknown };
        const runner = entry.probeRunner;
        const calls: [Probe, string, ProbeArgs, pulumi.ComponentResourceOptions | undefined][] = [];
        entry.probeRunner = (component: Probe, name: string, args: ProbeArgs, opts: pulumi.ComponentResourceOptions | undefined) => {
            calls.push([component, name, args, opts]);
            return { marker: new pulumi.ComponentResource("test:index:Runner", `${name}-runner`, {}, { parent: component }) };
        };
        try {
            const { run, probe } = await probeOn("kubernetes");
            expect(childrenOf(run, "kubernetes")).to.deep.equal(["test:index:Runner kubernetes-probe-stuck_jobs-runner"]);
            expect(calls).to.have.length(1);
            const [component, name, args, opts] = calls[0];
            expect(component).to.equal(probe);
            expect(name).to.equal("kubernetes-probe-stuck_jobs");
            expect(args).to.deep.equal({ stack: "test", fleet: "kubernetes", probe: PROBE, target: TARGETS.kubernetes });
            expect(opts).to.equal(undefined);
            expect(Object.keys(probe.resources)).to.deep.equal(["marker"]);
        } finally {
            entry.probeRunner = runner;
        }
    });

    const refused: [string, ProbeTarget, string | undefined][] = [
        ["Kubernetes", { backend: "kubernetes", pushgateway: "ftp://gateway" }, "pushgateway"],
        ["Docker", { backend: "docker", pushgateway: "" }, "pushgateway"],
        ["OpenStack, whose members run their probes", { backend: "openstack" }, undefined],
    ];
    for (const [where, target, problem] of refused) {
        it(`checks the Pushgateway of a probe its backend runs: ${where}`, async () => {
            let registered: readonly { type: string }[] = [];
            const failure = await probeOn(target.backend, target).then(
                () => undefined,
                (err: ProgramError) => {
                    registered = err.resources;
                    return err.message;
                },
            );
            if (problem === undefined) {
                expect(failure).to.equal(undefined);
            } else {
                // Checked before anything registers: not even the Probe component.
                expect(registered.map((r) => r.type)).to.deep.equal([]);
                const url = (target as { pushgateway: string }).pushgateway;
                expect(failure).to.equal(
                    `Probe "${target.backend}-probe-stuck_jobs": invalid arguments:\n  - ${problem} = ${JSON.stringify(url)}: expected an http:// or https:// URL of a host (name or IP), an optional port and path, without user, query, fragment or trailing '/'`,
                );
            }
        });
    }
});
