/** Alertmanager webhook notifications, as tests of the robot send them. */

/** A notification as Alertmanager 0.25 sends it. */
export function notification(alerts: Record<string, unknown>[]): Record<string, unknown> {
    return {
        receiver: "herd-robot",
        status: "firing",
        alerts,
        groupLabels: { herd_fleet: "web", herd_stack: "prod" },
        commonLabels: { herd_fleet: "web", herd_stack: "prod" },
        commonAnnotations: {},
        externalURL: "http://127.0.0.1:9093",
        version: "4",
        groupKey: '{}:{herd_fleet="web", herd_stack="prod"}',
        truncatedAlerts: 0,
    };
}

/** One alert of a notification, as Alertmanager writes it. */
export function webhookAlert(labels: Record<string, string>, fields: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        status: "firing",
        labels: { alertname: "HerdMemberDown", herd_stack: "prod", herd_fleet: "web", herd_slot: "3", severity: "warning", ...labels },
        annotations: { summary: "Member 3 of fleet web (prod) is down" },
        startsAt: "2026-11-27T14:50:00.123456789Z",
        endsAt: "0001-01-01T00:00:00Z",
        generatorURL: "http://127.0.0.1:9090/graph",
        fingerprint: "a1b2c3d4e5f60718",
        ...fields,
    };
}
