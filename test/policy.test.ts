import { expect } from "chai";
import type { PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { KubernetesWorkload, ServerGroup, type KubernetesWorkloadArgs, type ServerGroupArgs } from "../components";
import { ProgramRun, runProgram } from "../components/testing";
import { cidrRange, coveredFamily, guardrails, type GuardrailConfig, type PolicyBase, type PolicyEnvironment } from "../policy/guardrails";
import { runStack, stackConfig } from "./helpers/project";

/** What `args.notApplicable` throws, as the policy SDK's own does. */
class NotApplicable extends Error {}

/** The result of running every guardrail over a stack: violations per policy, and the policies that did not apply. */
interface Verdict {
    readonly violations: Record<string, string[]>;
    readonly notApplicable: Record<string, string>;
}

/**
 * The resources of a program run under mocks as the policy SDK shows them to a stack policy:
 * inputs as `props`, parents linked.
 */
function policyResources(run: ProgramRun): PolicyResource[] {
    const byUrn = new Map<string, PolicyResource>();
    for (const r of run.resources) {
        byUrn.set(r.urn, {
            type: r.type,
            name: r.name,
            urn: r.urn,
            props: r.inputs as Record<string, any>,
            opts: { protect: r.options.protect, ignoreChanges: [...r.options.ignoreChanges], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [], parent: r.options.parent },
            dependencies: [],
            propertyDependencies: {},
        } as unknown as PolicyResource);
    }
    for (const r of byUrn.values()) {
        const parent = r.opts.parent;
        (r as { parent?: PolicyResource }).parent = parent === undefined ? undefined : byUrn.get(parent);
    }
    return [...byUrn.values()];
}

/** Runs every guardrail the way `pulumi preview --policy-pack` does: each resource policy on each resource, then each stack policy. */
async function check(
    run: ProgramRun,
    options: { stack?: string; fleets?: unknown; config?: GuardrailConfig; protected?: unknown; base?: PolicyBase; files?: Record<string, string> } = {},
): Promise<Verdict> {
    const env: PolicyEnvironment = {
        stack: () => options.stack ?? "prod",
        fleets: () => options.fleets,
        protected: () => options.protected,
        base: () => options.base,
        readFile: (file) => options.files?.[file],
    };
    const resources = policyResources(run);
    const violations: Record<string, string[]> = {};
    const notApplicable: Record<string, string> = {};
    const common = {
        getConfig: <T extends object>() => (options.config ?? {}) as T,
        notApplicable: (reason?: string): never => {
            throw new NotApplicable(reason);
        },
        stackTags: new Map<string, string>(),
    };
    for (const policy of guardrails(env)) {
        const report = (message: string) => (violations[policy.name] ??= []).push(message);
        try {
            if ("validateStack" in policy) {
                await (policy as StackValidationPolicy).validateStack({ ...common, resources } as StackValidationArgs, report);
            } else {
                const validate = (policy as ResourceValidationPolicy).validateResource;
                for (const resource of resources) {
                    const args = { ...common, type: resource.type, name: resource.name, urn: resource.urn, props: resource.props, opts: resource.opts };
                    for (const fn of Array.isArray(validate) ? validate : validate ? [validate] : []) {
                        await fn(args as unknown as ResourceValidationArgs, report);
                    }
                }
            }
        } catch (err) {
            if (!(err instanceof NotApplicable)) {
                throw err;
            }
            notApplicable[policy.name] = err.message;
        }
    }
    return { violations, notApplicable };
}

const IMAGE_ID = "6d1f0b7e-2c4a-4e8b-9f3d-5a7c1e9b2d40";
const DIGEST = "registry.example.org/api@sha256:5b0e8c1f3a2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";
const release = { image: IMAGE_ID, flavor: "b3-8", networks: ["ext-net"] };
const web: ServerGroupArgs = { size: 4, release, spread: "anti-affinity", health: { path: "/healthz", port: 80 }, loadBalancer: { port: 80 } };
const api: KubernetesWorkloadArgs = { size: 3, release: { image: DIGEST, port: 8080 }, health: { path: "/ready", port: 8080 } };

const serverGroup = (args: Partial<ServerGroupArgs>) => runProgram({ program: () => void new ServerGroup("web", { ...web, ...args }), config: {} });
const kubernetes = (args: Partial<KubernetesWorkloadArgs>) => runProgram({ program: () => void new KubernetesWorkload("api", { ...api, ...args }), config: {} });

describe("guardrails (policy/)", () => {
    it("passes the prod stack as this repository pins it", async () => {
        const run = await runStack("prod");
        const config = stackConfig("prod");
        expect(config["herd:protected"]).to.equal(true);
        const base = { fleets: config["herd:fleets"], protected: true };
        expect(await check(run, { fleets: config["herd:fleets"], protected: true, base })).to.deep.equal({ violations: {}, notApplicable: {} });
    });

    it("applies to prod stacks only, unless configured otherwise", async () => {
        const run = await runStack("dev");
        const dev = await check(run, { stack: "dev", fleets: stackConfig("dev")["herd:fleets"] });
        expect(dev.violations).to.deep.equal({});
        // no-admin-port-open-to-world looks at security group rules only, and the dev stack has none
        expect(Object.keys(dev.notApplicable).sort()).to.deep.equal([
            "containers-non-root-with-limits",
            "first-wave-small",
            "herd-fleet-redundancy",
            "herd-health-checked",
            "images-pinned",
            "protected-rollout",
        ]);
        expect(dev.notApplicable["images-pinned"]).to.equal('stack "dev" is not one of prod');

        const held = await check(run, { stack: "dev", fleets: stackConfig("dev")["herd:fleets"], config: { stacks: ["dev", "prod"] } });
        // protected-rollout follows the stack's own herd:protected, not the stacks setting.
        expect(held.notApplicable).to.deep.equal({ "protected-rollout": 'stack "dev" is not protected (herd:protected: true)' });
        expect(held.violations["herd-fleet-redundancy"]).to.include(
            'fleet "worker" (herd:docker:Workload) has 1 member: prod fleets need at least 2, so that losing one host does not take the fleet down',
        );
        expect(held.violations["herd-fleet-redundancy"]).to.include(
            'fleet "web" (herd:docker:Workload) runs every member on one Docker engine, which no anti-affinity can spread: run prod fleets on openstack or kubernetes',
        );
        const nginx = run.ofType("docker:index/remoteImage:RemoteImage").find((r) => r.inputs.name === "docker.io/library/nginx:1.27-alpine");
        expect(held.violations["images-pinned"]).to.include(
            `image "${nginx?.name}" pulls "docker.io/library/nginx:1.27-alpine" by tag: pin it by digest (name@sha256:…) so every member runs the same bytes`,
        );
        expect(held.violations["containers-non-root-with-limits"]).to.include(
            `container "web-0" runs as the image's default user, which may be root: set user to a non-root UID`,
        );
    });

    describe("herd-fleet-redundancy", () => {
        it("accepts four members in a hard anti-affinity group", async () => {
            expect((await check(await serverGroup({}))).violations["herd-fleet-redundancy"]).to.equal(undefined);
        });

        it("refuses a fleet of one", async () => {
            const verdict = await check(await serverGroup({ size: 1 }));
            expect(verdict.violations["herd-fleet-redundancy"]).to.deep.equal([
                'fleet "web" (herd:openstack:ServerGroup) has 1 member: prod fleets need at least 2, so that losing one host does not take the fleet down',
            ]);
        });

        it("refuses more members in a hard anti-affinity group than the cloud has compute hosts, when it says how many", async () => {
            const run = await serverGroup({});
            expect((await check(run, { config: { computeHosts: 4 } })).violations["herd-fleet-redundancy"]).to.equal(undefined);
            expect((await check(run, { config: { computeHosts: 3 } })).violations["herd-fleet-redundancy"]).to.deep.equal([
                'fleet "web" (herd:openstack:ServerGroup) has 4 members in a hard anti-affinity server group, and the cloud has 3 compute hosts (computeHosts): Nova cannot place 1 of them; use soft-anti-affinity or at most 3 members',
            ]);
            const soft = await serverGroup({ spread: "soft-anti-affinity" });
            expect((await check(soft, { config: { computeHosts: 3 } })).violations["herd-fleet-redundancy"]).to.equal(undefined);
        });

        it("refuses pods that are not spread over nodes", async () => {
            const run = await kubernetes({});
            // herd spreads by default; a policy must still catch a Deployment that is not spread
            const deployment = run.named("api-stable", "kubernetes:apps/v1:Deployment");
            const pod = (deployment.inputs.spec as { template: { spec: Record<string, unknown> } }).template.spec;
            delete pod.topologySpreadConstraints;
            expect((await check(run)).violations["herd-fleet-redundancy"]).to.deep.equal([
                'fleet "api" (herd:kubernetes:Workload) is not spread: Deployment "api-stable" has no topology spread constraint or pod anti-affinity over kubernetes.io/hostname',
            ]);
        });
    });

    describe("herd-health-checked", () => {
        it("accepts a fleet behind a load balancer with a health monitor, and a fleet that only exposes metrics", async () => {
            expect((await check(await serverGroup({}))).violations["herd-health-checked"]).to.equal(undefined);
            const worker = await serverGroup({ health: undefined, loadBalancer: undefined, ingress: [{ port: 9100, cidr: "10.0.0.0/8" }] });
            expect((await check(worker)).violations["herd-health-checked"]).to.equal(undefined);
        });

        it("refuses a fleet that serves with no health check in front of it", async () => {
            const verdict = await check(await serverGroup({ health: undefined, loadBalancer: undefined, ingress: [{ port: 443, cidr: "0.0.0.0/0" }] }));
            expect(verdict.violations["herd-health-checked"]).to.deep.equal([
                'fleet "web" (herd:openstack:ServerGroup) serves on port 443 but nothing health-checks its members: give it a health check and a load balancer, whose health monitor takes failing members out',
            ]);
        });

        it("refuses a serving Kubernetes fleet without readiness probes", async () => {
            const verdict = await check(await kubernetes({ health: undefined }));
            expect(verdict.violations["herd-health-checked"]).to.deep.equal([
                'fleet "api" (herd:kubernetes:Workload) serves but Deployment "api-stable" container "app" has no readiness probe: give the fleet a health check',
            ]);
        });
    });

    describe("no-admin-port-open-to-world", () => {
        it("accepts SSH from the management network", async () => {
            const run = await serverGroup({ ingress: [{ port: 80, cidr: "0.0.0.0/0" }, { port: 22, cidr: "10.0.0.0/8" }] });
            expect((await check(run)).violations["no-admin-port-open-to-world"]).to.equal(undefined);
        });

        it("refuses SSH and the kubelet from anywhere", async () => {
            const run = await serverGroup({ ingress: [{ port: 80, cidr: "0.0.0.0/0" }, { port: 22, cidr: "0.0.0.0/0" }, { port: 10250, cidr: "0.0.0.0/0" }] });
            expect((await check(run)).violations["no-admin-port-open-to-world"]).to.deep.equal([
                'security group rule "web-ingress-tcp-10250-0-0-0-0-0" opens port 10250 (kubelet) to 0.0.0.0/0 (every IPv4 address): admin ports must only be reachable from a management network or a bastion',
                'security group rule "web-ingress-tcp-22-0-0-0-0-0" opens port 22 (SSH) to 0.0.0.0/0 (every IPv4 address): admin ports must only be reachable from a management network or a bastion',
            ]);
        });

        it("parses CIDRs: every notation of the whole address space is the world", () => {
            const world: [cidr: string, family: string][] = [
                ["0.0.0.0/0", "IPv4"],
                ["10.0.0.0/0", "IPv4"],
                ["0.0.0.0/00", "IPv4"],
                ["0/0", "IPv4"],
                ["::/0", "IPv6"],
                ["2001:db8::/0", "IPv6"],
                ["::ffff:0.0.0.0/96", "IPv4"],
            ];
            for (const [cidr, family] of world) {
                expect(coveredFamily([cidrRange(cidr)!]), cidr).to.equal(family);
            }
            for (const cidr of ["10.0.0.0/8", "0.0.0.0/1", "::/1", "::ffff:0.0.0.0/97"]) {
                expect(coveredFamily([cidrRange(cidr)!]), cidr).to.equal(undefined);
            }
            for (const cidr of ["1.2.3.4/33", "0.0.0.0/-1", "::/129", "10.0.0.0", "any", ""]) {
                expect(cidrRange(cidr), cidr).to.equal(undefined);
            }
            const ranges = (...cidrs: string[]) => cidrs.map((cidr) => cidrRange(cidr)!);
            expect(coveredFamily(ranges("0.0.0.0/1", "128.0.0.0/1"))).to.equal("IPv4");
            expect(coveredFamily(ranges("128.0.0.0/1", "0.0.0.0/2", "64.0.0.0/2"))).to.equal("IPv4");
            expect(coveredFamily(ranges("::/1", "8000::/1"))).to.equal("IPv6");
            expect(coveredFamily(ranges("0.0.0.0/1", "128.0.0.0/2"))).to.equal(undefined);
            expect(coveredFamily(ranges("0.0.0.0/1", "::/1", "8000::/2"))).to.equal(undefined);
        });

        /** A fleet whose rules open SSH to each of `sources`, as its security group rules give them. */
        async function sshFrom(...sources: string[]) {
            const run = await serverGroup({ ingress: sources.map((_, i) => ({ port: 22, cidr: `10.${i}.0.0/16` })) });
            const rules = run.ofType("openstack:networking/secGroupRule:SecGroupRule");
            sources.forEach((source, i) => (rules[i].inputs.remoteIpPrefix = source));
            return { run, names: rules.map((rule) => rule.name) };
        }
        const fix = "admin ports must only be reachable from a management network or a bastion";

        for (const [source, family] of [
            ["10.0.0.0/0", "IPv4"],
            ["0.0.0.0/00", "IPv4"],
            ["::/0", "IPv6"],
            ["::ffff:0.0.0.0/96", "IPv4"],
        ]) {
            it(`refuses SSH from ${source}`, async () => {
                const { run, names } = await sshFrom(source);
                expect((await check(run)).violations["no-admin-port-open-to-world"]).to.deep.equal([
                    `security group rule "${names[0]}" opens port 22 (SSH) to ${source} (every ${family} address): ${fix}`,
                ]);
            });
        }

        it("refuses SSH from two halves that add up to the world, and from a source that is not a CIDR", async () => {
            const halves = await sshFrom("0.0.0.0/1", "128.0.0.0/1");
            expect((await check(halves.run)).violations["no-admin-port-open-to-world"]).to.deep.equal([
                `security group rules "${halves.names[0]}", "${halves.names[1]}" together open port 22 (SSH) to every IPv4 address (0.0.0.0/1, 128.0.0.0/1): ${fix}`,
            ]);
            const invalid = await sshFrom("10.0.0.0/33");
            expect((await check(invalid.run)).violations["no-admin-port-open-to-world"]).to.deep.equal([
                `security group rule "${invalid.names[0]}" opens port 22 (SSH) to "10.0.0.0/33", which is not a CIDR: ${fix}`,
            ]);
            const half = await sshFrom("0.0.0.0/1", "10.0.0.0/8");
            expect((await check(half.run)).violations["no-admin-port-open-to-world"]).to.equal(undefined);
        });
    });

    describe("containers-non-root-with-limits", () => {
        it("accepts herd's defaults: non-root, with limits", async () => {
            expect((await check(await kubernetes({}))).violations["containers-non-root-with-limits"]).to.equal(undefined);
        });

        it("refuses a container allowed to run as root", async () => {
            const verdict = await check(await kubernetes({ security: { runAsNonRoot: false } }));
            expect(verdict.violations["containers-non-root-with-limits"]).to.deep.equal([
                'Deployment "api-stable" container "app" may run as root: set runAsNonRoot: true (herd\'s default) or a non-zero runAsUser',
            ]);
        });

        it("refuses a container without a memory limit", async () => {
            const run = await kubernetes({});
            const deployment = run.named("api-stable", "kubernetes:apps/v1:Deployment");
            const [container] = (deployment.inputs.spec as { template: { spec: { containers: { resources: { limits: Record<string, string> } }[] } } }).template.spec.containers;
            delete container.resources.limits.memory;
            expect((await check(run)).violations["containers-non-root-with-limits"]).to.deep.equal(['Deployment "api-stable" container "app" has no memory limit']);
        });
    });

    describe("images-pinned", () => {
        it("accepts an image ID on OpenStack and a digest on Kubernetes", async () => {
            expect((await check(await serverGroup({}))).violations["images-pinned"]).to.equal(undefined);
            expect((await check(await kubernetes({}))).violations["images-pinned"]).to.equal(undefined);
        });

        it("refuses an image name on OpenStack", async () => {
            const verdict = await check(await serverGroup({ size: 2, release: { ...release, image: "debian-12" } }));
            expect(verdict.violations["images-pinned"]).to.deep.equal(
                ["web-0", "web-1"].map((name) => `instance "${name}" boots image name "debian-12": pin the image ID, since a name moves when the image is republished and then replaces every server`),
            );
        });

        it("refuses a container image by tag", async () => {
            const verdict = await check(await kubernetes({ release: { image: "registry.example.org/api:1.4", port: 8080 } }));
            expect(verdict.violations["images-pinned"]).to.deep.equal([
                'Deployment "api-stable" container "app" runs image "registry.example.org/api:1.4" by tag: pin it by digest (name@sha256:…) so every member runs the same bytes',
            ]);
        });
    });

    describe("first-wave-small", () => {
        it("accepts the default waves: one member first", async () => {
            const run = await serverGroup({});
            expect((await check(run, { fleets: { web: { size: 12 }, api: { size: 6, rollout: { waves: [1, 3] } } } })).violations["first-wave-small"]).to.equal(undefined);
        });

        it("refuses a first wave above 10% of the fleet", async () => {
            const run = await serverGroup({});
            const verdict = await check(run, { fleets: { web: { size: 40, rollout: { members: 0, waves: [5, 20] } } } });
            expect(verdict.violations["first-wave-small"]).to.deep.equal([
                'fleet "web": the first rollout wave moves 5 of 40 members (13%): it must be at most 10% of the fleet (4 members); start herd:fleets.web.rollout.waves with 4',
            ]);
        });

        describe("counts the members actually on the new release", () => {
            const previous = { ...release, image: "0b5e7a3c-9d1f-4c2e-8a6b-3f4d5e6a7b8c" };
            const config = (members: number) => ({ web: { size: 12, release, rollout: { previous, members } } });
            const rollout = (members: number) => serverGroup({ size: 12, rollout: { members, previous } });

            for (const members of [0, 1, 10]) {
                it(`accepts ${members} of 12, a wave of the rollout`, async () => {
                    expect((await check(await rollout(members), { fleets: config(members) })).violations["first-wave-small"]).to.equal(undefined);
                });
            }

            it("refuses 6 of 12, not a wave, and all 12 while the previous release is kept", async () => {
                expect((await check(await rollout(6), { fleets: config(6) })).violations["first-wave-small"]).to.deep.equal([
                    'fleet "web": 6 of 12 members (50%) run the new release (herd:fleets.web.rollout.members is 6), which is not a wave of its rollout (0 → 1 → 10 → 12): the first wave is at most 1 member, the next ones come with herd promote',
                ]);
                expect((await check(await rollout(12), { fleets: config(12) })).violations["first-wave-small"]).to.deep.equal([
                    'fleet "web": 12 of 12 members (100%) run the new release (herd:fleets.web.rollout.members is 12), which is not a wave of its rollout (0 → 1 → 10 → 12): the first wave is at most 1 member, the next ones come with herd promote',
                ]);
            });

            it("counts the members, whatever rollout.members says", async () => {
                expect((await check(await rollout(6), { fleets: config(1) })).violations["first-wave-small"]).to.deep.equal([
                    'fleet "web": 6 of 12 members (50%) run the new release (herd:fleets.web.rollout.members is 1), which is not a wave of its rollout (0 → 1 → 10 → 12): the first wave is at most 1 member, the next ones come with herd promote',
                ]);
            });

            it("counts the canary's replicas on Kubernetes", async () => {
                const run = await kubernetes({ size: 12, rollout: { members: 6, previous: { ...api.release, image: DIGEST.replace("5b0e", "6c1f") } } });
                const fleets = { api: { size: 12, release: api.release, rollout: { previous: { image: "other" }, members: 1 } } };
                expect((await check(run, { fleets })).violations["first-wave-small"]).to.deep.equal([
                    'fleet "api": 6 of 12 members (50%) run the new release (herd:fleets.api.rollout.members is 1), which is not a wave of its rollout (0 → 1 → 10 → 12): the first wave is at most 1 member, the next ones come with herd promote',
                ]);
            });
        });

        it("does not apply to a stack without herd:fleets", async () => {
            const verdict = await check(await serverGroup({}));
            expect(verdict.notApplicable).to.deep.equal({
                "first-wave-small": "the stack config has no herd:fleets",
                "protected-rollout": 'stack "prod" is not protected (herd:protected: true)',
            });
        });
    });
    describe("protected-rollout", () => {
        const R1 = { image: IMAGE_ID, flavor: "b3-8", network: "ext-net", userData: "cloud-init/web.yaml" };
        const R2 = { ...R1, image: "0b5e7a3c-9d1f-4c2e-8a6b-3f4d5e6a7b8c" };
        const steady = (release: object) => ({ web: { size: 12, release } });
        const rolling = (members: number) => ({ web: { size: 12, release: R2, rollout: { previous: R1, members } } });
        const files: Record<string, string> = { "cloud-init/web.yaml": "#cloud-config\n" };
        const verdict = async (before: unknown, after: unknown, extra: { files?: Record<string, string>; baseFiles?: Record<string, string> } = {}) =>
            (
                await check(await serverGroup({}), {
                    fleets: after,
                    protected: true,
                    base: { fleets: before, protected: true, readFile: (file) => (extra.baseFiles ?? files)[file] },
                    files: extra.files ?? files,
                })
            ).violations["protected-rollout"];

        it("refuses a new release on every slot at once, naming herd release", async () => {
            expect(await verdict(steady(R1), steady(R2))).to.deep.equal([
                "fleet web: a new release reaches 12 of 12 slots at once (slots 0–11), more than the first wave (1): in a protected stack (herd:protected: true) start it with `herd release web --stack prod`, which moves slot 0 first, then `herd promote` wave by wave",
            ]);
        });

        it("refuses a new release on a fleet sitting at 10 members: ten move at once", async () => {
            const R3 = { ...R1, image: "9c8b7a6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d" };
            const after = { web: { size: 12, release: R3, rollout: { previous: R1, members: 10 } } };
            expect(await verdict(rolling(10), after)).to.have.length(1).and.to.match(/a new release reaches 10 of 12 slots at once \(slots 0–9\)/);
        });

        it("accepts what herd release, promote and rollback write: the first wave, one wave on, back", async () => {
            expect(await verdict(steady(R1), rolling(1))).to.equal(undefined);
            expect(await verdict(rolling(1), rolling(10))).to.equal(undefined);
            expect(await verdict(rolling(10), steady(R2))).to.equal(undefined);
            expect(await verdict(rolling(10), rolling(0))).to.equal(undefined);
        });

        it("refuses skipping a wave: 1 → all at once", async () => {
            expect(await verdict(rolling(1), steady(R2))).to.deep.equal([
                "fleet web: 11 slots (slots 1–11) move to its release at once, 1 → 12, past the next wave (10): a protected stack (herd:protected: true) goes one wave at a time: `herd promote web --stack prod`",
            ]);
        });

        it("counts an edited user data file as a new release", async () => {
            const edited = { "cloud-init/web.yaml": "#cloud-config\ntimezone: Etc/UTC\n" };
            expect(await verdict(steady(R1), steady(R1), { files: edited })).to.have.length(1);
            expect(await verdict(steady(R1), steady(R1))).to.equal(undefined);
        });

        it("applies while either side is protected, and needs the revision to compare with", async () => {
            const run = await serverGroup({});
            const unprotected = await check(run, { fleets: steady(R2), protected: false, base: { fleets: steady(R1) } });
            expect(unprotected.notApplicable["protected-rollout"]).to.equal('stack "prod" is not protected (herd:protected: true)');
            const unprotecting = await check(run, { fleets: steady(R2), protected: false, base: { fleets: steady(R1), protected: true } });
            expect(unprotecting.violations["protected-rollout"]).to.have.length(1);
            const unknown = await check(run, { fleets: steady(R2), protected: true });
            expect(unknown.notApplicable["protected-rollout"]).to.match(/^the stack config the change is compared with is unknown/);
        });
    });
});
