import { z } from "zod";

/**
 * The JSON body Alertmanager POSTs to a webhook receiver (`version: "4"`), as its documentation
 * and `notify/webhook` define it. Sizes are bounded so that a body which passed the byte limit
 * still cannot make the robot hold thousands of alerts or megabyte-long labels.
 */

/** At most this many alerts in one notification (Alertmanager's `max_alerts` caps it on its side). */
export const MAX_ALERTS = 1000;

const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,127}$/, { error: "a label name: a letter or '_', then letters, digits or '_'" });
const labels = z
    .record(labelName, z.string({ error: "a label value: a string" }).max(4096, { error: "a label value of at most 4096 characters" }), { error: "a map of label name → string" })
    .refine((map) => Object.keys(map).length <= 128, { error: "at most 128 labels" });
const annotations = z
    .record(z.string().max(256), z.string().max(16384, { error: "an annotation of at most 16384 characters" }), { error: "a map of name → string" })
    .refine((map) => Object.keys(map).length <= 128, { error: "at most 128 annotations" });
const status = z.enum(["firing", "resolved"], { error: "firing | resolved" });
// RFC 3339 as Go writes it: nanoseconds and a zone; `0001-01-01T00:00:00Z` for "no end".
const timestamp = z.iso.datetime({ offset: true, error: "an RFC 3339 time such as 2026-11-27T15:04:05.123Z" });

/** One alert of a notification. */
export const webhookAlertSchema = z.object({
    status,
    labels: labels.refine((map) => typeof map.alertname === "string" && map.alertname !== "", { error: "labels with an alertname" }),
    annotations,
    startsAt: timestamp,
    endsAt: timestamp,
    generatorURL: z.string().max(8192),
    // Alertmanager's fingerprint of the label set: 16 hexadecimal digits.
    fingerprint: z.string().regex(/^[0-9a-f]{16}$/, { error: "16 hexadecimal digits (Alertmanager's fingerprint)" }),
});

/** A notification, version 4. */
export const webhookSchema = z.object({
    version: z.literal("4", { error: 'version "4" (Alertmanager\'s webhook format)' }),
    groupKey: z.string().max(16384),
    truncatedAlerts: z.int().min(0).optional(),
    status,
    receiver: z.string().max(1024),
    groupLabels: labels,
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: z.string().max(8192),
    alerts: z.array(webhookAlertSchema, { error: "a list of alerts" }).min(1, { error: "at least one alert" }).max(MAX_ALERTS, { error: `at most ${MAX_ALERTS} alerts` }),
}, { error: "an Alertmanager webhook notification: a JSON object" });

export type WebhookAlert = z.infer<typeof webhookAlertSchema>;
export type Webhook = z.infer<typeof webhookSchema>;

/**
 * Reads a notification from a parsed JSON body.
 *
 * @returns the notification, or one line saying what is wrong with the body (the first problem,
 * with its path, e.g. `alerts[0].fingerprint: 16 hexadecimal digits`)
 */
export function readWebhook(body: unknown): Webhook | string {
    const result = webhookSchema.safeParse(body);
    if (result.success) {
        return result.data;
    }
    const issue = result.error.issues[0];
    const where = issue.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("").replace(/^\./, "");
    return `${where || "body"}: ${issue.message}`;
}
