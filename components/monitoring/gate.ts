/**
 * A promotion gate: a PromQL query that must hold on the canary, and a minimum bake time since the
 * current wave went live. `herd promote` checks it before it moves a fleet to the next wave.
 */
export interface GateSpec {
    /** Base URL of the Prometheus server, e.g. `http://prometheus.monitoring:9090`. */
    readonly prometheus: string;
    /**
     * PromQL that returns a non-empty result while the canary is healthy, like an alert's
     * condition turned around. `$generation`, `$fleet` and `$stack` are replaced by the canary's
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
    /** When the current wave went live; `undefined` when unknown (the bake time then cannot pass). */
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
    const match = /^(\d+)(s|m|h)$/.exec(duration);
    if (!match) {
        throw new Error(`expected a duration such as 30s, 15m or 2h, got ${JSON.stringify(duration)}`);
    }
    return Number(match[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as "s" | "m" | "h"];
}

/** Replaces `$generation`, `$fleet` and `$stack` in a gate query. */
export function gateQuery(query: string, context: GateContext): string {
    return query.replace(/\$(generation|fleet|stack)\b/g, (_, key: "generation" | "fleet" | "stack") => context[key]);
}

interface PrometheusResponse {
    status: string;
    error?: string;
    data?: { resultType: string; result: unknown };
}

/** Whether a query result "holds": a non-empty vector, or a non-zero scalar. */
function holds(data: { resultType: string; result: unknown }): boolean {
    switch (data.resultType) {
        case "vector":
        case "matrix":
            return Array.isArray(data.result) && data.result.length > 0;
        case "scalar": {
            const [, value] = data.result as [number, string];
            return Number(value) !== 0 && !Number.isNaN(Number(value));
        }
        default:
            return false;
    }
}

/**
 * Checks a promotion gate: first the bake time, then the query against Prometheus's HTTP API.
 * Never throws for an unreachable or failing Prometheus: that is a closed gate, with the reason.
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
    let body: PrometheusResponse;
    try {
        const response = await fetch(url, { signal: AbortSignal.timeout(spec.timeoutMs ?? 5_000) });
        body = (await response.json()) as PrometheusResponse;
        if (!response.ok || body.status !== "success" || !body.data) {
            return { passed: false, query, reason: `Prometheus at ${spec.prometheus} refused the query: ${body.error ?? `HTTP ${response.status}`}` };
        }
    } catch (err) {
        const detail = (err as { cause?: { code?: string; message?: string } }).cause;
        const cause = detail?.code ?? detail?.message ?? (err as Error).message;
        return { passed: false, query, reason: `Prometheus at ${spec.prometheus} cannot be reached (${cause})` };
    }
    return holds(body.data)
        ? { passed: true, query, reason: "the gate query holds on the canary" }
        : { passed: false, query, reason: "the gate query does not hold on the canary (empty result)" };
}
