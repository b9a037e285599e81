import * as pulumi from "@pulumi/pulumi";
import type { StackBuild, StackContext, StackFleet } from "../fleet/backend";
import { containerProbeSettings } from "../fleet/plan";
import type { DockerWorkloadArgs } from "./workload";

/**
 * The Docker fleets of a stack program: the engine `docker:host` names (the default socket
 * without it), and the probes' Pushgateway and image from `herd:monitoring`.
 */
export function dockerStackProgram(_fleets: readonly StackFleet<DockerWorkloadArgs>[], context: StackContext): () => StackBuild {
    const host = new pulumi.Config("docker").get("host");
    const args = { ...(host ? { host } : {}), ...containerProbeSettings(context.monitoring) };
    return () => ({ args });
}
