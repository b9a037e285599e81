/** Alertmanager webhook notifications, as tests of the robot send them. */
import * as net from "node:net";

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

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
}

/** Waits until `check` holds, polling; throws with `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (await Promise.resolve().then(check).catch(() => false)) {
            return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
