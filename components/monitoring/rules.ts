import { YAML } from "../config/lazy";
import { gateClosedExpr, gateQuery } from "./gate";
import { probeAlert, ProbeSpec } from "./probe";

/**
 * A Prometheus alerting rule.
 *
 * @group Monitoring
 */
export interface AlertRule {
    /** Alert name, e.g. `HerdMemberDown`. */
    readonly alert: string;
    /** PromQL expression; the alert is pending while it returns series. */
    readonly expr: string;
    /** How long the expression must hold before the alert fires, e.g. `5m`. @default fires at once */
    readonly for?: string;
    /** Labels added to the alert, e.g. `severity`. */
    readonly labels: Readonly<Record<string, string>>;
    /** Annotations of the alert, e.g. `summary`. */
    readonly annotations: Readonly<Record<string, string>>;
}

/**
 * A Prometheus rule group.
 *
 * @group Monitoring
 */
export interface RuleGroup {
    /** Group name, unique within a rule file. */
    readonly name: string;
    /** The group's alerts, in order. */
    readonly rules: readonly AlertRule[];
}

/**
 * The promotion gate of a fleet whose rollout is under way, watched by `HerdCanaryGateClosed`.
 *
 * @group Monitoring
 */
export interface CanaryGate {
    /** The gate query as configured (`gate.query`), with `$generation`, `$fleet` and `$stack` in it. */
    readonly query: string;
    /** Generation of the release being rolled out: the canary's, for `$generation` and the alert's `herd_generation`. */
    readonly generation: string;
    /**
     * How long the gate must stay closed before the alert fires: long enough for a new canary's
     * series to appear, short enough not to leave a failing canary serving for the gate's bake.
     * @default "10m", like the other canary alerts
     */
    readonly for?: string;
}

/** How long a gate stays closed before `HerdCanaryGateClosed` fires, unless {@link CanaryGate.for} says otherwise. */
export const DEFAULT_GATE_CLOSED_FOR = "10m";

/**
 * What the default alerts of a fleet need to know.
 *
 * @group Monitoring
 */
export interface FleetAlertInput {
    /** The stack, matched on the `herd_stack` label. */
    readonly stack: string;
    /** The fleet, matched on the `herd_fleet` label. */
    readonly fleet: string;
    /** Number of slots. */
    readonly size: number;
    /** Alert when fewer members than this are up. */
    readonly minHealthy: number;
    /** How long a member may be down before it alerts. @default "5m" */
    readonly memberDownFor?: string;
    /**
     * PromQL giving one series per member, 1 while it is up and 0 while it is down, labelled
     * `herd_slot` and `herd_generation`. @default `up{herd_stack="…",herd_fleet="…"}`: a scrape
     * target per member
     */
    readonly membersUp?: string;
    /** The fleet's probes, each with its own alert. @default [] */
    readonly probes?: readonly ProbeSpec[];
    /**
     * The fleet's promotion gate while a rollout is under way (some slots on the release, the
     * others on the previous one): it adds `HerdCanaryGateClosed`. @default none: no gate, or no rollout under way
     */
    readonly canaryGate?: CanaryGate;
}

/**
 * Labels every herd scrape target is expected to carry (from the members' metadata by
 * relabelling; the README shows the scrape config).
 */
export const TARGET_LABELS = ["herd_stack", "herd_fleet", "herd_slot", "herd_generation"] as const;

/** The default minimum of healthy members: the size minus the largest update batch. */
export function defaultMinHealthy(size: number, batch: number): number {
    return Math.max(0, size - Math.min(batch, size));
}

function selector(stack: string, fleet: string): string {
    return `herd_stack="${stack}",herd_fleet="${fleet}"`;
}

/**
 * `HerdCanaryGateClosed`: fires while the gate query, for the canary's generation, would keep the
 * gate closed (see {@link gateClosedExpr}), so the robot can roll the canary back. Labelled as a
 * canary's alert, with the canary's generation.
 */
export function canaryGateAlert(stack: string, fleet: string, gate: CanaryGate): AlertRule {
    const query = gateQuery(gate.query, { stack, fleet, generation: gate.generation });
    return {
        alert: "HerdCanaryGateClosed",
        expr: gateClosedExpr(query),
        for: gate.for ?? DEFAULT_GATE_CLOSED_FOR,
        labels: { herd_stack: stack, herd_fleet: fleet, herd_generation: gate.generation, herd_role: "canary", severity: "warning" },
        annotations: {
            summary: `The gate of fleet ${fleet} (${stack}) is closed on its canary, generation ${gate.generation}; roll back or hold the rollout`,
            // Not the query itself: a `{{` in one of its strings would be read as a template.
            description: "The gate query returns nothing, NaN, ±Inf or a scalar 0, so herd promote would refuse the next wave.",
        },
    };
}

/**
 * The alerts every fleet is born with: fewer than `minHealthy` members up, and a member down for
 * five minutes, plus one per probe, and while a rollout is under way one on the fleet's gate.
 * Labels identify the stack and fleet; the member-down alert keeps the series' slot and
 * generation, so it says which release the dead member ran.
 *
 * @group Monitoring
 */
export function defaultAlerts(input: FleetAlertInput): RuleGroup {
    const up = input.membersUp ?? `up{${selector(input.stack, input.fleet)}}`;
    const labels = { herd_stack: input.stack, herd_fleet: input.fleet };
    return {
        name: `herd-${input.stack}-${input.fleet}`,
        rules: [
            {
                alert: "HerdFleetBelowMinHealthy",
                // `or vector(0)`: when every target is gone the sum is empty, which must still alert.
                expr: `(sum(${up}) or vector(0)) < ${input.minHealthy}`,
                for: "2m",
                labels: { ...labels, severity: "critical" },
                annotations: {
                    summary: `Fleet ${input.fleet} (${input.stack}) has fewer than ${input.minHealthy} of ${input.size} members up`,
                    description: "{{ $value }} members are up.",
                },
            },
            {
                alert: "HerdMemberDown",
                expr: `${up} == 0`,
                for: input.memberDownFor ?? "5m",
                labels: { ...labels, severity: "warning" },
                annotations: {
                    summary: `Member {{ $labels.herd_slot }} of fleet ${input.fleet} (${input.stack}) is down`,
                    description: "{{ $labels.instance }}, generation {{ $labels.herd_generation }}, has been down for " + (input.memberDownFor ?? "5m") + ".",
                },
            },
            ...(input.probes ?? []).map((probe) => probeAlert(probe, input.stack, input.fleet)),
            ...(input.canaryGate ? [canaryGateAlert(input.stack, input.fleet, input.canaryGate)] : []),
        ],
    };
}

/**
 * A Prometheus rule file (`groups:`), as YAML. Deterministic: same groups, same bytes.
 *
 * @group Monitoring
 */
export function ruleFile(groups: readonly RuleGroup[]): string {
    return YAML.stringify({ groups }, { lineWidth: 0 });
}
