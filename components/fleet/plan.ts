import { type ConfigProblem, formatProblem } from "../config/errors";
import { imageReferenceProblem, promqlProblem } from "../config/grammar";
import { fleetNameProblems } from "../core/arguments";
import { probeSpecProblems, pushgatewayProblems, type ProbeSpec } from "../monitoring/probe";
import { defaultMinHealthy, type FleetAlertInput } from "../monitoring/rules";
import { defaultBatch } from "../rollout";

/**
 * What a fleet is, whatever its backend: how it is watched (stack, default alerts, probes) and
 * the checks of those, with key paths relative to the args. Each backend's `fleet.ts` adds its
 * own arguments and checks; the registry (`./backends.ts`) puts them together.
 */

/**
 * The default alerts of a fleet: what `defaultAlerts` takes besides the fleet's stack, name, size
 * and probes, which the fleet gives.
 *
 * @group Fleets
 */
export interface FleetAlerts extends Partial<Omit<FleetAlertInput, "stack" | "fleet" | "size" | "probes" | "minHealthy">> {
    /**
     * `HerdFleetBelowMinHealthy` fires when fewer members than this are up (for 2 minutes).
     * @default the size minus one update batch: a rollout's batch down at a time does not alert
     */
    readonly minHealthy?: number;
}

/**
 * What every fleet adds to its backend's arguments: how it is watched.
 *
 * @group Fleets
 */
export interface FleetMonitoringArgs {
    /** The stack, as the `herd_stack` label of every alert and of every probe's count. @default `pulumi.getStack()` */
    readonly stack?: string;
    /** The default alerts: fewer than `minHealthy` members up, a member down for 5 minutes. @default `{}` */
    readonly alerts?: FleetAlerts;
    /**
     * Small scripts that count one failure mode each ("this bug happened N times"), each with an
     * alert of its own. OpenStack members run them from a systemd timer their user data installs
     * (so adding one replaces the members, in batches); Kubernetes runs each as a CronJob, Docker
     * as a container, and both push the counts to `pushgateway`. @default []
     */
    readonly probes?: readonly ProbeSpec[];
}

/**
 * Where the probes of a container fleet run and push their counts.
 *
 * @group Fleets
 */
export interface ContainerProbeArgs {
    /**
     * Base URL of the Prometheus Pushgateway the probes push their counts to, e.g.
     * `http://pushgateway.monitoring:9091`. Required when the fleet has probes. @default none
     */
    readonly pushgateway?: string;
    /** The image probe containers run in; the wrapper needs a POSIX shell and `wget`. @default "docker.io/library/busybox:1.37" */
    readonly probeImage?: string;
}

/** Where a container fleet's probes push and what image they run, from `herd:monitoring` (`resolveStack` refuses probes without a Pushgateway). */
export function containerProbeSettings(monitoring: { readonly pushgateway?: string; readonly probeImage?: string } | undefined): ContainerProbeArgs {
    return {
        ...(monitoring?.pushgateway ? { pushgateway: monitoring.pushgateway } : {}),
        ...(monitoring?.probeImage ? { probeImage: monitoring.probeImage } : {}),
    };
}

/** A duration as Prometheus reads one (`for:` of a rule). */
const PROMETHEUS_DURATION = /^([0-9]+(ms|s|m|h|d|w|y))+$/;

/** A Pulumi stack name, which goes into label values and PromQL. */
const STACK_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/**
 * What every fleet's arguments have, whatever the backend, as `commonFleetProblems` reads them.
 *
 * @group Fleets
 */
export interface CommonFleetArgs extends FleetMonitoringArgs {
    /** The backend; the registry checks it. */
    readonly backend: string;
    /** Number of members. */
    readonly size: number;
    /** How replacements proceed: its batch sets the default `minHealthy`. */
    readonly update?: {
        /** Members per batch. @default a quarter of the size, at least 1 */
        readonly batch?: number;
    };
}

/**
 * One line per problem of what a fleet adds to its backend's arguments that does not depend on
 * the backend — its name, stack, alerts and probes — each naming its key path relative to the
 * args (`probes[0].every`), the value and what is allowed, as a stack config's problems do. The
 * registry's `fleetProblems` adds the backend's own.
 */
export function commonFleetProblems(name: string, args: CommonFleetArgs): string[] {
    const problems: string[] = [...fleetNameProblems(name)];
    const add = (problem: ConfigProblem) => problems.push(formatProblem(problem));
    if (args.stack !== undefined && !(typeof args.stack === "string" && STACK_NAME.test(args.stack))) {
        add({ path: ["stack"], value: args.stack, allowed: "a Pulumi stack name: letters, digits, '-', '_' and '.', at most 100 characters" });
    }
    const minHealthy = args.alerts?.minHealthy;
    if (minHealthy !== undefined && !(Number.isSafeInteger(minHealthy) && minHealthy >= 0)) {
        add({ path: ["alerts", "minHealthy"], value: minHealthy, allowed: "a whole number ≥ 0" });
    }
    const memberDownFor = args.alerts?.memberDownFor;
    if (memberDownFor !== undefined && !(typeof memberDownFor === "string" && PROMETHEUS_DURATION.test(memberDownFor))) {
        add({ path: ["alerts", "memberDownFor"], value: memberDownFor, allowed: "a Prometheus duration such as 5m, 90s or 1h30m" });
    }
    const membersUp = args.alerts?.membersUp;
    const membersUpProblem = membersUp === undefined ? undefined : typeof membersUp === "string" ? promqlProblem(membersUp) : "no text";
    if (membersUpProblem !== undefined) {
        add({ path: ["alerts", "membersUp"], value: membersUp, allowed: `a PromQL expression; this one has ${membersUpProblem}` });
    }
    const probes: unknown = args.probes ?? [];
    if (!Array.isArray(probes) || probes.some((probe) => probe === null || typeof probe !== "object")) {
        add({ path: ["probes"], value: probes, allowed: "a list of probes, each { name, script, every, metric?, alert? }" });
    } else {
        const seen = new Map<unknown, number>();
        (probes as ProbeSpec[]).forEach((probe, i) => {
            problems.push(...probeSpecProblems(probe, `probes[${i}]`));
            const first = seen.get(probe.name);
            if (first !== undefined) {
                add({ path: ["probes", i, "name"], value: probe.name, allowed: `a name no other probe of the fleet has (probes[${first}] has it)` });
            }
            seen.set(probe.name, first ?? i);
        });
    }
    return problems;
}

/** The Pushgateway and image of a container fleet's probes: a problem each, key paths relative to the args. */
export function containerProbeProblems(args: ContainerProbeArgs & { readonly backend: string }, probes: number): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    if (args.pushgateway === undefined) {
        if (probes > 0) {
            problems.push({ path: ["pushgateway"], value: undefined, allowed: `the URL of a Prometheus Pushgateway: the probes of a ${args.backend} fleet push their counts there` });
        }
    } else if (pushgatewayProblems(args.pushgateway).length > 0) {
        problems.push({ path: ["pushgateway"], value: args.pushgateway, allowed: "an http:// or https:// URL of a host (name or IP), an optional port and path, without user, query, fragment or trailing '/'" });
    }
    const image = args.probeImage === undefined ? undefined : imageReferenceProblem(args.probeImage);
    if (image !== undefined) {
        problems.push({ path: ["probeImage"], value: args.probeImage, allowed: image });
    }
    return problems;
}

/**
 * What a fleet's default alerts are built from: its size, the minimum of healthy members (given,
 * or the size minus one update batch) and its probes.
 *
 * @param membersUp PromQL counting members, for a fleet whose members are not scrape targets, unless `alerts.membersUp` says otherwise (see `FleetAlertInput.membersUp`)
 */
export function fleetAlertInput(name: string, args: CommonFleetArgs, stack: string, membersUp?: string): FleetAlertInput {
    const alerts = args.alerts ?? {};
    const given = alerts.membersUp ?? membersUp;
    return {
        stack,
        probes: args.probes ?? [],
        fleet: name,
        size: args.size,
        ...alerts,
        minHealthy: alerts.minHealthy ?? defaultMinHealthy(args.size, args.update?.batch ?? defaultBatch(args.size)),
        ...(given === undefined ? {} : { membersUp: given }),
    };
}
