/**
 * Where a Kubernetes fleet's members may run: a node selector and tolerations of node taints,
 * checked against Kubernetes's grammar of label keys and values (which the fleet's monitoring
 * labels take too). A check returns one line per problem, naming the key, the value and what is
 * allowed, so that every problem is refused at once, before anything is created.
 */

/**
 * A toleration of a node taint, as Kubernetes takes it: lets members run on nodes with that taint.
 *
 * @group Components
 */
export interface Toleration {
    /** Taint key; unset with `operator: Exists` tolerates every taint. @default every key */
    readonly key?: string;
    /** `Equal` matches `value`; `Exists` matches any value. @default "Equal" */
    readonly operator?: "Equal" | "Exists";
    /** Taint value, with `operator: Equal`. @default "" */
    readonly value?: string;
    /** Taint effect tolerated. @default every effect */
    readonly effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
    /** With `effect: NoExecute`: how long a member stays on a node after the taint appears. @default forever */
    readonly tolerationSeconds?: number;
}

/**
 * Which nodes members may run on.
 *
 * @group Components
 */
export interface WorkloadPlacement {
    /** Node labels a node must carry, e.g. `{ "node-role.example.org/web": "true" }`. @default any node */
    readonly nodeSelector?: Readonly<Record<string, string>>;
    /** Taints members tolerate, e.g. nodes dedicated to the fleet. @default none */
    readonly tolerations?: readonly Toleration[];
}

/** A label (or taint) key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A label value: empty, or at most 63 characters of letters, digits, `-`, `_` and `.`, starting and ending alphanumeric. */
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;

/** `true` for a Kubernetes label key (`example.org/role`, `role`): prefix at most 253 characters, name at most 63. */
export function isLabelKey(key: string): boolean {
    const slash = key.lastIndexOf("/");
    return LABEL_KEY.test(key) && (slash < 0 || slash <= 253);
}

/** `true` for a Kubernetes label value: empty, or at most 63 characters of `[A-Za-z0-9-_.]`, alphanumeric at both ends. */
export function isLabelValue(value: string): boolean {
    return LABEL_VALUE.test(value);
}

/** Problems of a node selector and tolerations, one line each, keys prefixed with `key`. */
export function placementProblems(placement: WorkloadPlacement, key = ""): string[] {
    const problems: string[] = [];
    for (const [label, value] of Object.entries(placement.nodeSelector ?? {})) {
        if (!isLabelKey(label)) {
            problems.push(`${key}nodeSelector has key ${JSON.stringify(label)}: expected a label key such as example.org/pool (name at most 63 characters)`);
        }
        if (typeof value !== "string" || !isLabelValue(value)) {
            problems.push(`${key}nodeSelector.${label} = ${JSON.stringify(value)}: expected a label value: at most 63 letters, digits, '-', '_' or '.'`);
        }
    }
    (placement.tolerations ?? []).forEach((toleration, i) => {
        const at = `${key}tolerations[${i}]`;
        const operator = toleration.operator ?? "Equal";
        if (operator !== "Equal" && operator !== "Exists") {
            problems.push(`${at}.operator = ${JSON.stringify(toleration.operator)}: expected Equal | Exists`);
        }
        if (toleration.key !== undefined && !isLabelKey(toleration.key)) {
            problems.push(`${at}.key = ${JSON.stringify(toleration.key)}: expected a taint key such as example.org/dedicated`);
        }
        if (toleration.key === undefined && operator !== "Exists") {
            problems.push(`${at}: a toleration without a key needs operator: Exists (it then tolerates every taint)`);
        }
        if (toleration.value !== undefined && (operator === "Exists" ? toleration.value !== "" : !isLabelValue(toleration.value))) {
            problems.push(
                `${at}.value = ${JSON.stringify(toleration.value)}: ${operator === "Exists" ? "operator Exists takes no value" : "expected a taint value: at most 63 letters, digits, '-', '_' or '.'"}`,
            );
        }
        if (toleration.effect !== undefined && !(TAINT_EFFECTS as readonly string[]).includes(toleration.effect)) {
            problems.push(`${at}.effect = ${JSON.stringify(toleration.effect)}: expected ${TAINT_EFFECTS.join(" | ")}`);
        }
        if (toleration.tolerationSeconds !== undefined) {
            if (!Number.isSafeInteger(toleration.tolerationSeconds) || toleration.tolerationSeconds < 0) {
                problems.push(`${at}.tolerationSeconds = ${JSON.stringify(toleration.tolerationSeconds)}: expected a whole number of seconds ≥ 0`);
            } else if (toleration.effect !== "NoExecute") {
                problems.push(`${at}.tolerationSeconds: only a NoExecute toleration has a time limit; set effect: NoExecute or drop it`);
            }
        }
    });
    return problems;
}
