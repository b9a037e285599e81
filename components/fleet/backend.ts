import type * as pulumi from "@pulumi/pulumi";
import type { ConfigBackend } from "../config/backend";
import type { FleetBatches } from "./batches";
import type { FleetPolicy } from "./policy";
import type { MonitoringSettings } from "../config/schema";
import type { Probe, ProbeArgs } from "../monitoring/probeComponent";
import type { RuleGroup } from "../monitoring/rules";

/**
 * The seam between a fleet and where its members run. Each backend's folder holds its arguments,
 * pure plan, manifests or inputs, thin component and one `FleetBackend` (its `fleet.ts`); the
 * registry (`./backends.ts`) lists them, an entry each. `buildFleet`, the stack program and the
 * command line's reading of a plan go through it, so none of them names a backend.
 */

/**
 * What every built fleet has, whatever its backend.
 *
 * @group Fleets
 */
export interface BuiltFleet {
    /** The fleet's name, as given. */
    readonly name: string;
    /**
     * The fleet's alerts: the default ones, one per probe, and on Kubernetes the canary alerts.
     * On Kubernetes a PrometheusRule carries them; elsewhere put them in the rule file of the
     * Prometheus that scrapes the members (see `alertRuleFile`).
     */
    readonly ruleGroup: RuleGroup;
    /** One component per probe, `${name}-probe-${probe}`, in the order of `args.probes`. */
    readonly probes: readonly Probe[];
}

/**
 * What a member resource says of itself, read from where its backend puts herd's labels.
 *
 * @group Backends
 */
export interface MemberLabels {
    /** Its fleet label. */
    readonly fleet?: string;
    /** Its slot label, for a member that is one slot. */
    readonly slot?: string;
    /** Its role label (`stable`, `canary`), for a member that is a group of pods. */
    readonly role?: string;
    /** Its generation label. */
    readonly generation?: string;
}

/**
 * What the stack program knows when it builds a backend's fleets.
 *
 * @group Backends
 */
export interface StackContext<Settings = unknown> {
    /** The stack. */
    readonly stack: string;
    /** `herd:monitoring`, validated, when the stack sets it. */
    readonly monitoring?: MonitoringSettings;
    /** The backend's own key, `herd:<backend>`, validated, when the stack sets it. */
    readonly settings?: Settings;
}

/**
 * One fleet of a stack, as the stack config resolved it for its backend.
 *
 * @group Backends
 */
export interface StackFleet<WorkloadArgs> {
    /** The fleet's name. */
    readonly name: string;
    /** Its component's arguments. */
    readonly args: WorkloadArgs;
}

/**
 * What the stack program adds to one fleet: arguments on top of its resolved ones, and its components' options.
 *
 * @group Backends
 */
export interface StackBuild {
    /** Added to the fleet's arguments (a Pushgateway, a Docker host…). @default none */
    readonly args?: object;
    /** Options of the fleet's components (a provider, what to wait for). @default none */
    readonly opts?: pulumi.ComponentResourceOptions;
}

/**
 * What names a fleet's backend: its arguments, the fleet built, what a stack shows of it.
 *
 * @group Backends
 */
export interface OnBackend<B extends string = string> {
    /** The backend's name: `openstack`, `kubernetes`, `docker`. */
    readonly backend: B;
}

/**
 * One backend, as a fleet uses it.
 *
 * @typeParam Args the fleet's arguments on this backend (`backend` says which)
 * @typeParam Built the fleet as {@link FleetBackend.build} builds it
 * @typeParam Outputs what a stack shows of the fleet
 * @typeParam Config a fleet of the backend as the stack config's schema validated it
 * @typeParam WorkloadArgs the arguments of the backend's component, as the stack config resolves them
 * @typeParam ProbeTarget where its {@link FleetBackend.probeRunner} runs a probe (a `Probe`'s `target` on this backend)
 * @typeParam Settings its stack-wide key, `herd:<backend>`, validated
 *
 * @group Backends
 */
export interface FleetBackend<
    Args extends OnBackend,
    Built extends BuiltFleet & OnBackend<Args["backend"]>,
    Outputs extends OnBackend<Args["backend"]> = OnBackend<Args["backend"]>,
    Config = unknown,
    WorkloadArgs = unknown,
    ProbeTarget extends OnBackend<Args["backend"]> = OnBackend<Args["backend"]>,
    Settings = never,
> {
    /** The backend's name, as `backend` gives it in code and in a stack config. */
    readonly name: Args["backend"];
    /**
     * The most members one fleet of the backend may have: its stack-config schema and its
     * component refuse a larger one before anything is planned.
     */
    readonly maxSize: number;
    /**
     * What its members run, in a word: `server` (a VM image and what boots it) or `container` (an
     * image and its process). `herd release --from-stack` moves a release only between fleets of
     * the same kind.
     */
    readonly releaseKind: string;
    /**
     * One line per problem of what the fleet adds on this backend (its probes' schedules,
     * Pushgateway, probe image, monitoring labels), naming the key path relative to the args, as
     * `fleetProblems` does. The workload's own arguments are its component's to check.
     */
    problems(args: Args): string[];
    /**
     * Builds the fleet: its workload, its alerts (and the objects that carry them, if the
     * platform has any) and its probes, each with `opts`. Checks are done: nothing may throw
     * after the first resource is registered, short of the workload's own checks.
     */
    build(name: string, args: Args, stack: string, opts: pulumi.ComponentResourceOptions): Built;
    /** Whether the fleet's alerts go into the stack's rule file: no object on the platform carries them. */
    readonly ruleFile: boolean;
    /** What a stack shows of the fleet: its backend, the generation each slot (or role) runs, and how to reach it. */
    outputs(fleet: Built): Outputs;
    /** The resource types of its members (a member is what a release change replaces or rolls). */
    readonly memberTypes: readonly string[];
    /** herd's labels on a member of one of {@link FleetBackend.memberTypes}, read from its inputs. */
    memberLabels(type: string, inputs: Readonly<Record<string, unknown>>): MemberLabels;
    /**
     * What the cloud would compute for a resource of the backend that a program reads back (a
     * server's address, a VIP), for the test kit's mocks to answer with: derived from `name` only,
     * so every run gives the same. `undefined` for a type it computes nothing for. @default nothing
     */
    mockState?(type: string, name: string): Readonly<Record<string, unknown>> | undefined;
    /**
     * How `herd robot` heals a member that is down, when its members are not resources of
     * Pulumi's state. @default a member per slot (`0` to `size - 1`), which the robot replaces
     * with a targeted `pulumi up` of its resource
     */
    readonly heal?: FleetHeal<Config, Settings>;
    /** How the policy pack reads one of its fleets: members, spread, health checks, members on a new release (see its `policy.ts`). */
    readonly policy: FleetPolicy;
    /**
     * How `herd apply` replaces its members one batch at a time, and what `herd plan` checks
     * first (see its `batches.ts`). @default none: its platform rolls members out itself, and
     * `herd apply` leaves its fleets to the final `pulumi up`
     */
    readonly batches?: FleetBatches<WorkloadArgs, Settings>;
    /** What the backend does with its fleets' stack config (see its `config.ts`). */
    readonly config: ConfigBackend<Config, WorkloadArgs, Settings>;
    /**
     * How `stackProgram` builds the backend's fleets: sets up what they share (a provider,
     * namespaces, a preflight) once, before any fleet is built, and returns what each fleet adds
     * to its resolved arguments and which options its components take. Called only for a stack
     * with fleets on the backend. @default nothing shared, nothing added
     */
    stackProgram?(fleets: readonly StackFleet<WorkloadArgs>[], context: StackContext<Settings>): (fleet: StackFleet<WorkloadArgs>) => StackBuild;
    /**
     * Registers what runs a probe of the backend's fleets (a CronJob, a container), as children
     * of `component`, the `Probe` named `name` that `args.target.backend` sent here, once it has
     * checked `args`; `opts` are the Probe's, for what its children wait for. Returns what it
     * registered, by role (`Probe.resources`). A probe the backend runs pushes its count to the
     * Pushgateway `args.target.pushgateway` names. @default none: the members run their probes
     * (OpenStack's from their user data), and a `Probe` registers nothing
     */
    probeRunner?(
        component: Probe,
        name: string,
        args: ProbeArgs<ProbeTarget>,
        opts: pulumi.ComponentResourceOptions | undefined,
    ): Readonly<Record<string, pulumi.Resource>>;
}

/**
 * One member that is down, as `herd robot` hands it to its backend's {@link FleetHeal}.
 *
 * @typeParam Config the fleet's stack config, validated
 * @typeParam Settings its backend's stack-wide key, `herd:<backend>`, validated
 *
 * @group Backends
 */
export interface HealRequest<Config = unknown, Settings = unknown> {
    /** The fleet's name. */
    readonly fleet: string;
    /** The member, as its alert's `herd_slot` names it (checked by {@link FleetHeal.memberProblem}). */
    readonly member: string;
    /** The fewest healthy members the fleet may have: a heal that would go below it must refuse. */
    readonly minHealthy: number;
    /** The fleet's stack config (`herd:fleets.<fleet>`), validated. */
    readonly config: Config;
    /** `herd:<backend>` of the stack, validated, when set. */
    readonly settings?: Settings;
    /** The project folder: what the settings' paths are relative to. */
    readonly projectDir: string;
    /** The environment of the tools the heal runs. */
    readonly env: NodeJS.ProcessEnv;
}

/**
 * How `herd robot` heals a backend whose members are not resources of Pulumi's state (pods of a
 * Deployment): which names are members, and how one is replaced.
 *
 * @group Backends
 */
export interface FleetHeal<Config = unknown, Settings = unknown> {
    /** Why `member` (an alert's `herd_slot`) names no member of the fleet; `undefined` when it does. */
    memberProblem(fleet: { readonly name: string; readonly size: number }, member: string): string | undefined;
    /** Replaces the member; resolves to what was done, in words, or rejects with why not. */
    replace(request: HealRequest<Config, Settings>): Promise<string>;
}

/**
 * herd's labels from a member's map of labels or metadata, under the keys its backend uses
 * (`herd-fleet` in Nova metadata, `herd.dev/fleet` on containers and pods).
 */
export function labelsFrom(map: unknown, keys: { readonly [K in keyof MemberLabels]?: string }): MemberLabels {
    const record = map !== null && typeof map === "object" ? (map as Record<string, unknown>) : {};
    const labels: Record<string, string> = {};
    for (const [name, key] of Object.entries(keys)) {
        if (key !== undefined && typeof record[key] === "string") {
            labels[name] = record[key] as string;
        }
    }
    return labels;
}
