import { promqlType, withoutPromqlComments } from "../config/grammar";
import { parseDuration } from "../core/duration";

/**
 * A promotion gate: a PromQL query that must hold on the canary, and a minimum bake time since the
 * current wave went live. `herd promote` checks it before it moves a fleet to the next wave.
 */
export interface GateSpec {
    /** Base URL of the Prometheus server, e.g. `http://prometheus.monitoring:9090`. */
    readonly prometheus: string;
    /**
     * PromQL that returns a non-empty result while the canary is healthy, like an alert's
     * condition turned around (`max(errors{…}) < 1`): a vector whose samples are all finite
     * numbers, or a finite non-zero scalar. NaN, ±Inf, an empty result, a string or an error
     * keep the gate closed. `$generation`, `$fleet` and `$stack` are replaced by the canary's
     * generation, the fleet and the stack.
     */
    readonly query: string;
    /** Minimum time the current wave must have run, e.g. `15m`. @default "0s" */
    readonly bake?: string;
    /** How long to wait for Prometheus, in milliseconds. @default 5000 */
    readonly timeoutMs?: number;
}

/** What the gate is checked against. */
export interface GateContext {
    /** The stack, for `$stack` in the query. */
    readonly stack: string;
    /** The fleet, for `$fleet` in the query. */
    readonly fleet: string;
    /** Generation of the release being rolled out (the canary's). */
    readonly generation: string;
    /**
     * When the current wave went live; `undefined` when unknown. The bake time then cannot
     * pass, nor when this is in the future.
     */
    readonly wentLiveAt?: Date;
    /** @default new Date() */
    readonly now?: Date;
}

/** The verdict, with the reason in words either way. */
export interface GateResult {
    /** `true` when the next wave may go. */
    readonly passed: boolean;
    /** Why the gate is open or closed, in one line for the operator. */
    readonly reason: string;
    /** The query as sent, after substitution. */
    readonly query: string;
}

/** `90s`, `15m`, `2h` → milliseconds. */
export function durationMs(duration: string): number {
    const parsed = parseDuration(duration);
    if (!parsed) {
        throw new Error(`expected a duration such as 30s, 15m or 2h, got ${JSON.stringify(duration)}`);
    }
    return parsed.seconds * 1000;
}

/** Replaces `$generation`, `$fleet` and `$stack` in a gate query. */
export function gateQuery(query: string, context: GateContext): string {
    return query.replace(/\$(generation|fleet|stack)\b/g, (_, key: "generation" | "fleet" | "stack") => context[key]);
}

/**
 * PromQL that returns one series, `{}`, exactly while a gate query would keep the gate closed by
 * the rule {@link checkGate} applies, so that an alert on it fires when `herd promote` would
 * refuse: for a query returning an instant vector, when it is empty or any of its samples is
 * NaN or ±Inf (the finite samples are counted against all of them, and `absent` turns "not as
 * many" and "none" into a series); for a scalar, when it is zero, NaN or ±Inf; a range vector is
 * summed over its range per series first (a NaN or ±Inf sample makes the sum one); a string
 * never holds. Comparisons with -Inf and +Inf filter out NaN, since every comparison with NaN is
 * false. `#` comments are dropped, or they would swallow what follows.
 *
 * @param query the gate query, its `$generation`, `$fleet` and `$stack` already replaced
 */
export function gateClosedExpr(query: string): string {
    const expr = withoutPromqlComments(query).trim();
    const finite = (vector: string) => `absent(count((${vector}) > -Inf < +Inf) == count(${vector}))`;
    switch (promqlType(expr)) {
        case "scalar":
            return `absent(vector(${expr}) != 0 > -Inf < +Inf)`;
        case "matrix":
            return finite(`sum_over_time(${expr})`);
        case "string":
            return "vector(1)";
        case "vector":
            return finite(expr);
    }
}

interface PrometheusResponse {
    status?: unknown;
    error?: unknown;
    data?: { resultType?: unknown; result?: unknown };
}

/** A sample's value as Prometheus's HTTP API writes it: `[<unix time>, "<number>"]`. */
function sampleValue(sample: unknown): number {
    return Array.isArray(sample) && sample.length === 2 && typeof sample[1] === "string" ? Number(sample[1]) : Number.NaN;
}

/** `NaN`, `+Inf`, `-Inf`, or the text of a value that is not a number, as Prometheus writes them. */
function valueText(sample: unknown): string {
    return Array.isArray(sample) && typeof sample[1] === "string" ? sample[1] : JSON.stringify(sample) ?? "nothing";
}

/**
 * Why a query result does not hold, or `undefined` when it does. It holds only on finite
 * numbers: a non-empty vector (or matrix) whose every sample is a finite number, the query's
 * condition having filtered out the unhealthy series; or a finite, non-zero scalar. An empty
 * result, NaN, ±Inf, a string or anything malformed keeps the gate closed.
 */
function whyNot(data: { resultType?: unknown; result?: unknown }): string | undefined {
    const { resultType, result } = data;
    switch (resultType) {
        case "vector":
        case "matrix": {
            if (!Array.isArray(result)) {
                return `Prometheus sent a ${resultType} without a result list`;
            }
            if (result.length === 0) {
                return "the gate query does not hold on the canary (empty result)";
            }
            for (const series of result as ({ value?: unknown; values?: unknown } | null)[]) {
                const values = series?.values;
                const samples: unknown[] = resultType === "vector" ? [series?.value] : Array.isArray(values) && values.length > 0 ? values : [undefined];
                const bad = samples.findIndex((sample) => !Number.isFinite(sampleValue(sample)));
                if (bad >= 0) {
                    return `the gate query returned ${valueText(samples[bad])}, not a finite number`;
                }
            }
            return undefined;
        }
        case "scalar": {
            const value = sampleValue(result);
            if (!Number.isFinite(value)) {
                return `the gate query returned ${valueText(result)}, not a finite number`;
            }
            return value === 0 ? "the gate query does not hold on the canary (scalar 0)" : undefined;
        }
        default:
            return `the gate query returned ${typeof resultType === "string" ? `a ${resultType}` : "no result type"}, not a number`;
    }
}

/**
 * Checks a promotion gate: first the bake time, then the query against Prometheus's HTTP API.
 * Fails closed: it passes only when the wave has baked and the query returns finite numbers
 * that hold (see {@link GateSpec.query}). Never throws for an unreachable or failing
 * Prometheus, nor for an answer it cannot read: that is a closed gate, with the reason.
 */
export async function checkGate(spec: GateSpec, context: GateContext): Promise<GateResult> {
    const query = gateQuery(spec.query, context);
    const bakeMs = durationMs(spec.bake ?? "0s");
    const now = context.now ?? new Date();
    if (bakeMs > 0) {
        if (!context.wentLiveAt) {
            return { passed: false, query, reason: `bake time ${spec.bake} cannot be checked: the time the current wave went live is unknown` };
        }
        const baked = now.getTime() - context.wentLiveAt.getTime();
        if (baked < 0) {
            return {
                passed: false,
                query,
                reason: `the current wave went live at ${context.wentLiveAt.toISOString()}, which is in the future (now ${now.toISOString()}): a commit date or a clock is wrong, so the bake time ${spec.bake} cannot be checked`,
            };
        }
        if (baked < bakeMs) {
            const left = Math.ceil((bakeMs - baked) / 60_000);
            return {
                passed: false,
                query,
                reason: `the current wave went live at ${context.wentLiveAt.toISOString()} and must bake for ${spec.bake}; about ${left} min left`,
            };
        }
    }
    const url = new URL("api/v1/query", spec.prometheus.endsWith("/") ? spec.prometheus : `${spec.prometheus}/`);
    url.searchParams.set("query", query);
    let response: Response;
    try {
        response = await fetch(url, { signal: AbortSignal.timeout(spec.timeoutMs ?? 5_000) });
    } catch (err) {
        const detail = (err as { cause?: { code?: string; message?: string } }).cause;
        const cause = detail?.code ?? detail?.message ?? (err as Error).message;
        return { passed: false, query, reason: `Prometheus at ${spec.prometheus} cannot be reached (${cause})` };
    }
    let body: PrometheusResponse;
    try {
        body = (await response.json()) as PrometheusResponse;
    } catch {
        return { passed: false, query, reason: `Prometheus at ${spec.prometheus} answered HTTP ${response.status} with something that is not its JSON` };
    }
    if (!response.ok || body?.status !== "success" || !body.data) {
        const error = typeof body?.error === "string" ? body.error : `HTTP ${response.status}`;
        return { passed: false, query, reason: `Prometheus at ${spec.prometheus} refused the query: ${error}` };
    }
    const reason = whyNot(body.data);
    return reason === undefined ? { passed: true, query, reason: "the gate query holds on the canary" } : { passed: false, query, reason };
}
