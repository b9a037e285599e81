import { formatProblem } from "../config/errors";
import { dockerFleetBackend } from "../docker/fleet";
import { kubernetesFleetBackend } from "../kubernetes/fleet";
import { openstackFleetBackend } from "../openstack/fleet";
import type { FleetBackend, MemberLabels } from "./backend";
import { commonFleetProblems } from "./plan";

/**
 * The backends a fleet can run on, in the order messages list them. A backend is a folder named
 * as its key here (its arguments, pure plan, manifests or inputs, thin component, its
 * `FleetBackend` in `fleet.ts` and its component package class in `componentPackage.ts`); adding
 * one is that folder and its entry here (the import and the key): the component package's entry
 * is written from this registry when the package is built. Each entry's module loads its provider
 * SDK only when it builds a fleet, so importing the registry loads none.
 *
 * @group Backends
 */
export const FLEET_BACKENDS = {
    openstack: openstackFleetBackend,
    kubernetes: kubernetesFleetBackend,
    docker: dockerFleetBackend,
} as const;

/**
 * A backend's name: `openstack`, `kubernetes` or `docker`.
 *
 * @group Backends
 */
export type BackendName = keyof typeof FLEET_BACKENDS;

/**
 * The arguments of a fleet on backend `B`.
 *
 * @group Backends
 */
export type FleetArgsOf<B extends BackendName> = Parameters<(typeof FLEET_BACKENDS)[B]["problems"]>[0];

/**
 * A fleet on backend `B`, as `buildFleet` built it.
 *
 * @group Backends
 */
export type FleetOf<B extends BackendName> = Parameters<(typeof FLEET_BACKENDS)[B]["outputs"]>[0];

/**
 * Arguments of `buildFleet`: a backend's workload arguments, with `backend` saying which, and how the fleet is watched.
 *
 * @group Fleets
 */
export type FleetArgs = { [B in BackendName]: FleetArgsOf<B> }[BackendName];

/**
 * A fleet as `buildFleet` built it: its workload, alerts, monitoring objects and probes.
 *
 * @group Fleets
 */
export type Fleet = { [B in BackendName]: FleetOf<B> }[BackendName];

/** The registry's entry for `name`, if herd has that backend. */
export function fleetBackend(name: unknown): FleetBackend<FleetArgs, Fleet> | undefined {
    return typeof name === "string" && Object.hasOwn(FLEET_BACKENDS, name)
        ? (FLEET_BACKENDS[name as BackendName] as unknown as FleetBackend<FleetArgs, Fleet>)
        : undefined;
}

/**
 * One line per problem of what a fleet adds to its backend's arguments — backend, stack, alerts,
 * probes, and what its backend constrains (Pushgateway, probe image, schedules, labels) — each
 * naming its key path relative to the args (`probes[0].every`), the value and what is allowed, as
 * a stack config's problems do. The backend's own arguments are checked by its component, before
 * it registers anything.
 */
export function fleetProblems(name: string, args: FleetArgs): string[] {
    const backend = fleetBackend(args.backend);
    const problems = commonFleetProblems(name, args);
    if (backend === undefined) {
        problems.push(formatProblem({ path: ["backend"], value: args.backend, allowed: Object.keys(FLEET_BACKENDS).join(" | ") }));
        return problems;
    }
    return [...problems, ...backend.problems(args)];
}

/**
 * herd's labels on a member, when `type` is a member type of a backend: read from where that
 * backend puts them. `undefined` for any other resource.
 */
export function memberLabelsOf(type: string, inputs: Readonly<Record<string, unknown>>): MemberLabels | undefined {
    for (const backend of Object.values(FLEET_BACKENDS) as FleetBackend<FleetArgs, Fleet>[]) {
        if (backend.memberTypes.includes(type)) {
            return backend.memberLabels(type, inputs);
        }
    }
    return undefined;
}
