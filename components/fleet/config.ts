import type { ConfigBackend } from "../config/backend";
import { ConfigError, type ConfigProblem } from "../config/errors";
import { FLEET_NAME } from "../config/schema";
import { CONFIG_PARSE, FLEETS_KEY, fleetConfigProblems, problemsOf } from "../config/validate";
import { type BackendName, FLEET_BACKENDS, fleetBackend } from "./backends";

/**
 * `herd:fleets` validated through the fleet registry: each fleet against the schema of the
 * backend its `backend` names, the rules across its keys (those of every fleet and its
 * backend's), then the rules across the backend's fleets. The config layer gives the pieces and
 * names no backend; this is where they meet.
 */

/**
 * A fleet of backend `B` as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type FleetConfigOf<B extends BackendName> = Parameters<(typeof FLEET_BACKENDS)[B]["config"]["resolve"]>[1];

/**
 * Any fleet as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type FleetConfig = { [B in BackendName]: FleetConfigOf<B> }[BackendName];

/**
 * The most members one fleet of each backend may have (its schema refuses a larger one).
 *
 * @group Stack config
 */
export const MAX_FLEET_SIZE = Object.fromEntries(
    Object.entries(FLEET_BACKENDS).map(([name, backend]) => [name, backend.maxSize]),
) as { readonly [B in BackendName]: (typeof FLEET_BACKENDS)[B]["maxSize"] };

/** The registry's config part of a backend, for a fleet whose `backend` names it. */
function configBackendOf(name: unknown): ConfigBackend<FleetConfig, unknown, unknown> | undefined {
    return fleetBackend(name)?.config as ConfigBackend<FleetConfig, unknown, unknown> | undefined;
}

/** What a fleet's `backend` allows. */
const BACKEND_ALLOWED = `a backend, one of ${Object.keys(FLEET_BACKENDS).join(" | ")}`;

/** The fleets of `herd:fleets` that are valid, and the problems of the others. */
export interface CheckedFleets {
    /** The valid fleets, typed, in the file's key order. */
    readonly fleets: Record<string, FleetConfig>;
    /** Every problem found, in key order. */
    readonly problems: readonly ConfigProblem[];
}

/**
 * Checks the raw value of `herd:fleets` without throwing: every fleet against its backend's
 * schema, the rules that span several of its keys, and those that span fleets (Docker host
 * ports). A fleet with a problem is left out of `fleets`.
 */
export function checkFleets(raw: unknown): CheckedFleets {
    const root = [FLEETS_KEY];
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        return { fleets: {}, problems: [{ path: root, value: raw, allowed: "a map of fleet name → fleet ({ backend, size, release, … })" }] };
    }
    const problems: ConfigProblem[] = [];
    const fleets: Record<string, FleetConfig> = {};
    for (const [name, value] of Object.entries(raw)) {
        const prefix = [...root, name];
        if (!FLEET_NAME.test(name)) {
            problems.push({
                path: prefix,
                value: name,
                allowed: "a fleet name: lowercase letters, digits and '-', starting with a letter, at most 30 characters",
            });
            continue;
        }
        if (value === null || typeof value !== "object" || Array.isArray(value)) {
            problems.push({ path: prefix, value, allowed: "a fleet: { backend, size, release, … }" });
            continue;
        }
        const backend = configBackendOf((value as { backend?: unknown }).backend);
        if (backend === undefined) {
            problems.push({ path: [...prefix, "backend"], value: (value as { backend?: unknown }).backend, allowed: BACKEND_ALLOWED });
            continue;
        }
        const result = backend.schema.safeParse(value, CONFIG_PARSE);
        if (!result.success) {
            problems.push(...problemsOf(result.error, prefix, value));
            continue;
        }
        const fleetProblems = fleetConfigProblems(result.data, prefix, backend.problems?.(result.data, prefix) ?? [], backend.secretPlace);
        problems.push(...fleetProblems);
        if (fleetProblems.length === 0) {
            fleets[name] = result.data;
        }
    }
    for (const name of Object.keys(FLEET_BACKENDS) as BackendName[]) {
        const own = Object.entries(fleets).filter(([, fleet]) => fleet.backend === name);
        const check = configBackendOf(name)?.stackProblems;
        if (own.length > 0 && check !== undefined) {
            problems.push(...check(own));
        }
    }
    return { fleets, problems };
}

/**
 * Validates the raw value of `herd:fleets` (as `pulumi.Config.getObject` returns it) and returns
 * the typed fleets, in the file's key order. Throws one {@link ConfigError} listing every problem.
 *
 * @param raw the value of `herd:fleets`; `undefined` when the key is absent
 * @param stack the stack name, for the message
 *
 * @group Stack config
 */
export function parseFleets(raw: unknown, stack: string): Record<string, FleetConfig> {
    const { fleets, problems } = checkFleets(raw);
    if (problems.length > 0) {
        throw new ConfigError(stack, problems);
    }
    return fleets;
}
