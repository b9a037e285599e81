import { FLEETS_KEY, StackConfig } from "../config";
import { type BackendName, FLEET_BACKENDS, resolveStack, stackInputOf } from "../fleet";
import type { StackFleet } from "../fleet/backend";
import type { FleetBatches, PlanCheck } from "../fleet/batches";
import { fileAtRevision } from "./git";
import { StackProject, stackConfigOf } from "./project";

/**
 * The fleets of a stack whose batches herd owns, by backend: what `herd apply` replaces batch by
 * batch, and what `herd plan` checks before a change is applied. Each backend with
 * `FleetBackend.batches` (OpenStack, Docker) says how; the command line names none of them.
 */

/** One backend's fleets in a stack, with its `batches` and its `herd:<backend>`. */
export interface BatchedBackend {
    readonly backend: BackendName;
    readonly batches: FleetBatches;
    readonly fleets: readonly StackFleet<unknown>[];
    readonly settings?: unknown;
}

/**
 * Every backend with batches, in the registry's order, with its fleets of a stack config
 * (validated: an invalid config throws its ConfigError); no fleets in a stack whose fleets are
 * all built in code (no `herd:fleets`).
 */
export function batchedBackends(config: StackConfig, project: Pick<StackProject, "stack" | "dir">): BatchedBackend[] {
    const resolved = config[FLEETS_KEY] === undefined ? undefined : resolveStack(stackInputOf(config), { stack: project.stack, projectDir: project.dir });
    return (Object.keys(FLEET_BACKENDS) as BackendName[]).flatMap((backend) => {
        const batches = FLEET_BACKENDS[backend].batches as FleetBatches | undefined;
        if (batches === undefined) {
            return [];
        }
        const fleets = (resolved?.fleets ?? []).filter((fleet) => fleet.backend === backend).map((fleet) => ({ name: fleet.name, args: fleet.args as unknown }));
        const settings = resolved?.[backend];
        return [{ backend, batches, fleets, ...(settings === undefined ? {} : { settings }) }];
    });
}

/**
 * The checks `herd plan` prints (OpenStack's: what the change needs at its peak under a plain
 * `pulumi up` and under `herd apply`, against the project's quota): the change from the stack
 * file at `against` to `text` (of `fleet` alone, when given). `undefined` when no backend has
 * anything to check.
 */
export async function planPreflight(project: StackProject, text: string, against: string | null, env: NodeJS.ProcessEnv, fleet?: string): Promise<PlanCheck | undefined> {
    const only = <T extends { readonly name: string }>(fleets: readonly T[]) => fleets.filter((f) => fleet === undefined || f.name === fleet);
    const current = batchedBackends(stackConfigOf(text, project.stackFileName), project).filter((b) => b.batches.plan !== undefined && only(b.fleets).length > 0);
    if (current.length === 0) {
        return undefined;
    }
    const previousText = against === null ? null : fileAtRevision(project.dir, against, project.stackFileName);
    const previous = previousText === null ? undefined : batchedBackends(stackConfigOf(previousText, `${project.stackFileName} at ${against}`), project);
    const checks: PlanCheck[] = [];
    for (const { backend, batches, fleets, settings } of current) {
        const before = previous?.find((b) => b.backend === backend)?.fleets;
        const check = await batches.plan?.({
            stack: project.stack,
            fleets: only(fleets),
            ...(previous === undefined ? {} : { previous: before ?? [] }),
            ...(settings === undefined ? {} : { settings }),
            env,
        });
        if (check !== undefined) {
            checks.push(check);
        }
    }
    return checks.length === 0 ? undefined : { report: checks.map((c) => c.report).join(""), problems: checks.flatMap((c) => c.problems) };
}
