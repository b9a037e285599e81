import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import type * as docker from "@pulumi/docker";
import { CONTAINER_PROBE_DIR, durationSeconds, PUSH_PROBE_NAME, PUSH_PROBE_SCRIPT } from "../monitoring/probe";
import { DEFAULT_PROBE_IMAGE, type Probe, type ProbeArgs, probeLabels, pushCommand } from "../monitoring/probeComponent";

/**
 * Where a probe of a Docker fleet runs: a container on the fleet's engine, pushing its count to a Pushgateway.
 *
 * @group Monitoring
 */
export interface DockerProbeTarget {
    /** As a container on the fleet's Docker engine. */
    readonly backend: "docker";
    /** Base URL of the Prometheus Pushgateway the count is pushed to. */
    readonly pushgateway: string;
    /** Docker network the probe container joins (the fleet's, to reach its members). @default none */
    readonly network?: pulumi.Input<string>;
    /** @default "docker.io/library/busybox:1.37" (`DEFAULT_PROBE_IMAGE`) */
    readonly image?: string;
}

/**
 * The Docker backend's probe runner: a container, child of the probe's `Probe` and on the Probe's
 * provider (the fleet's engine), that runs the probe through the wrapper in a loop. The provider
 * SDK is loaded here: a stack without Docker probes does not pay for it.
 *
 * @param component the probe's `Probe`, the container's parent
 * @param name the Probe's name, which the container's resource name is
 * @param args what the Probe runs, with its Docker target
 * @returns the container (`container`)
 */
export function dockerProbeRunner(component: Probe, name: string, args: ProbeArgs<DockerProbeTarget>): { readonly container: docker.Container } {
    const dockerSdk = require("@pulumi/docker") as typeof docker;
    const target = args.target;
    const seconds = durationSeconds(args.probe.every);
    // The wrapper's arguments follow the loop as data ("$@"), never pasted into the shell text.
    const command = ["sh", "-c", `while true; do "$@" || true; sleep ${seconds}; done`, "sh", ...pushCommand(args, target.pushgateway)];
    // Everything that recreates the container is in its name, so the new one never takes the old one's.
    const version = createHash("sha256")
        .update(JSON.stringify([args.probe.script, PUSH_PROBE_SCRIPT, command, target.image ?? DEFAULT_PROBE_IMAGE]))
        .digest("hex")
        .slice(0, 8);
    const container = new dockerSdk.Container(
        name,
        {
            // The scripts' hash in the name: a new script is a new container, created before the old one goes.
            name: `${args.fleet}-probe-${args.probe.name.replace(/_/g, "-")}-${version}`,
            image: target.image ?? DEFAULT_PROBE_IMAGE,
            command,
            user: "65534:65534",
            envs: ["TMPDIR=/tmp"],
            uploads: [
                { file: `${CONTAINER_PROBE_DIR}/${args.probe.name}`, content: args.probe.script, executable: true },
                { file: `${CONTAINER_PROBE_DIR}/${PUSH_PROBE_NAME}`, content: PUSH_PROBE_SCRIPT, executable: true },
            ],
            restart: "unless-stopped",
            memory: 64,
            securityOpts: ["no-new-privileges"],
            labels: Object.entries(probeLabels(args.fleet, args.probe.name)).map(([label, value]) => ({ label, value })),
            ...(target.network ? { networksAdvanced: [{ name: target.network }] } : {}),
        },
        { parent: component, replaceOnChanges: ["uploads", "command", "image"] },
    );
    return { container };
}
