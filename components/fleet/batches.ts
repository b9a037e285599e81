import type { StackFleet } from "./backend";

/**
 * How `herd apply` replaces members one batch at a time, whatever their backend, and what
 * `herd plan` checks before a change is applied. A backend whose members herd replaces itself
 * (OpenStack servers, Docker containers) gives its `FleetBatches`; one whose platform rolls
 * members out (Kubernetes Deployments) gives none. The command line runs the batches; the backend
 * says which slots change, which resources a batch's targeted `pulumi up` takes, what it checks
 * first (a cloud's quota) and what a batch waits for.
 */

/**
 * The environment variable `herd apply` sets to `batches` for the `up`s it runs (see
 * components/cli/applyWorker.ts): a program's own preflight then holds the change to one batch
 * at a time, not to a plain `up`.
 */
export const APPLY_VARIABLE = "HERD_APPLY";

/**
 * A resource of a stack's state, as `pulumi stack export` gives it.
 *
 * @group Backends
 */
export interface StateResource {
    /** Its URN; the last part is its name. */
    readonly urn: string;
    /** Its type token (`openstack:compute/instance:Instance`). */
    readonly type: string;
    /** Whether a provider manages it (`false` for a component). */
    readonly custom?: boolean;
    /** Its inputs as last deployed. */
    readonly inputs?: Record<string, unknown>;
}

/**
 * A slot and the generation of the member in it (for a Docker member, its container's name,
 * which holds the generation and every setting).
 *
 * @group Backends
 */
export interface SlotGeneration {
    /** The slot, from 0. */
    readonly slot: number;
    /** Its member's generation. */
    readonly generation: string;
}

/**
 * One fleet's change, slot by slot: a slot in both lists with another generation is replaced.
 *
 * @group Backends
 */
export interface FleetSlots {
    /** The fleet's name. */
    readonly fleet: string;
    /** The members the stack holds. */
    readonly before: readonly SlotGeneration[];
    /** The members the config asks for. */
    readonly after: readonly SlotGeneration[];
    /** Members replaced at a time (`update.batch`). */
    readonly batch: number;
}

/**
 * What a backend's batches start from.
 *
 * @group Backends
 */
export interface BatchRequest<WorkloadArgs = unknown, Settings = unknown> {
    /** The stack. */
    readonly stack: string;
    /** The backend's fleets to apply (one, under `herd apply --fleet`), as the stack config resolves them. */
    readonly fleets: readonly StackFleet<WorkloadArgs>[];
    /** The stack's state. */
    readonly state: readonly StateResource[];
    /** The backend's stack-wide key, `herd:<backend>`, validated, when set. */
    readonly settings?: Settings;
    /** The environment of the engine and of the cloud (`OS_*`…). */
    readonly env: NodeJS.ProcessEnv;
}

/**
 * A backend's part of one `herd apply`, opened before the first batch.
 *
 * @group Backends
 */
export interface BatchSession {
    /** Each fleet's change from the state to the config. */
    readonly changes: readonly FleetSlots[];
    /** What was checked before any batch (the peak against a quota), in lines to print. @default nothing */
    readonly report?: string;
    /** Why the change cannot be applied even one batch at a time: any refuses it before the first `up`. */
    readonly problems: readonly string[];
    /** The URNs a batch's targeted `pulumi up` takes: the slots' members and what is replaced with them. */
    targets(fleet: string, slots: readonly number[]): string[];
    /**
     * Waits until a batch's new members serve, after its `up`; returns what to say of them, or
     * `undefined` when the `up` itself waited. Throws, with the members' state, when they do not.
     * @default the `up` waited
     */
    settle?(fleet: string, slots: readonly number[], waitMs: number): Promise<string | undefined>;
}

/**
 * What `herd plan` checks of a backend's change before it is applied.
 *
 * @group Backends
 */
export interface PlanCheckRequest<WorkloadArgs = unknown, Settings = unknown> {
    /** The stack. */
    readonly stack: string;
    /** The backend's fleets in the stack file planned (one, under `herd plan --fleet`). */
    readonly fleets: readonly StackFleet<WorkloadArgs>[];
    /** The same fleets in the revision planned against; `undefined` when there is none (a new stack). */
    readonly previous?: readonly StackFleet<WorkloadArgs>[];
    /** The backend's stack-wide key, `herd:<backend>`, validated, when set. */
    readonly settings?: Settings;
    /** The environment of the cloud. */
    readonly env: NodeJS.ProcessEnv;
}

/**
 * What `herd plan` prints of a backend's check, and whether it refuses the change.
 *
 * @group Backends
 */
export interface PlanCheck {
    /** Lines to print after the plan, each ending with a newline. */
    readonly report: string;
    /** Why even `herd apply` cannot apply the change: any makes `herd plan` exit 3. */
    readonly problems: readonly string[];
}

/**
 * How `herd apply` replaces a backend's members one batch at a time, and what `herd plan` checks.
 *
 * @group Backends
 */
export interface FleetBatches<WorkloadArgs = unknown, Settings = unknown> {
    /** The backend's name in messages: `OpenStack`, `Docker`. */
    readonly title: string;
    /** Reads the change and checks it (logging in to the cloud if it needs to), before any batch. */
    open(request: BatchRequest<WorkloadArgs, Settings>): Promise<BatchSession>;
    /** The check `herd plan` prints; `undefined` when there is nothing to check. @default none */
    plan?(request: PlanCheckRequest<WorkloadArgs, Settings>): Promise<PlanCheck | undefined>;
}

/**
 * A refusal, or a cloud that cannot be read, in words for the user: the command line prints its
 * message alone.
 *
 * @group Backends
 */
export class BatchError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "BatchError";
    }
}

/**
 * One targeted `up` of `herd apply`: replaced slots of one fleet, at most a batch of them.
 *
 * @group Backends
 */
export interface ApplyBatch {
    readonly fleet: string;
    /** Counted from 1, within the fleet. */
    readonly index: number;
    /** The fleet's number of batches. */
    readonly of: number;
    readonly slots: readonly number[];
}

/**
 * The batches of a change: each fleet's replaced slots (in slot order), `batch` at a time, one
 * fleet after the other.
 *
 * @group Backends
 */
export function applyBatches(changes: readonly FleetSlots[]): ApplyBatch[] {
    return changes.flatMap((change) => {
        const before = new Map(change.before.map((s) => [s.slot, s.generation]));
        const replaced = change.after.filter((s) => before.has(s.slot) && before.get(s.slot) !== s.generation).map((s) => s.slot).sort((a, b) => a - b);
        const size = Math.max(1, change.batch);
        const count = Math.ceil(replaced.length / size);
        return Array.from({ length: count }, (_, i) => ({ fleet: change.fleet, index: i + 1, of: count, slots: replaced.slice(i * size, (i + 1) * size) }));
    });
}

/** The last part of a URN: the resource's name. */
export const nameOfUrn = (urn: string): string => urn.split("::").pop() as string;
