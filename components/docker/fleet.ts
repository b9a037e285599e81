import type * as pulumi from "@pulumi/pulumi";
import { formatProblem } from "../config/errors";
import type { BuiltFleet, FleetBackend } from "../fleet/backend";
import { containerProbeProblems, fleetAlertInput, type ContainerProbeArgs, type FleetMonitoringArgs } from "../fleet/plan";
import { fleetProbes } from "../monitoring/probeComponent";
import { defaultAlerts } from "../monitoring/rules";
import type * as WorkloadModule from "./workload";
import type * as BatchesModule from "./batches";
import { lazy } from "../config/lazy";
import { dockerConfigBackend } from "./config";
import { containerLabels, dockerFleetPolicy } from "./policy";
import { dockerProbeRunner, type DockerProbeTarget } from "./probe";
import { DOCKER_MAX_SIZE, type DockerFleetConfig } from "./schema";
import { dockerStackProgram } from "./stack";

/** The Docker backend of a fleet: a `DockerWorkload`, its alerts for the stack's rule file, and a container per probe on its engine. */

/**
 * Arguments of a Docker fleet: those of its `DockerWorkload`, and how it is watched.
 *
 * @group Fleets
 */
export interface DockerFleetArgs extends WorkloadModule.DockerWorkloadArgs, FleetMonitoringArgs, ContainerProbeArgs {
    /** The fleet runs as containers on one Docker engine. */
    readonly backend: "docker";
}

/**
 * A Docker fleet as `buildFleet` built it.
 *
 * @group Fleets
 */
export interface DockerFleet extends BuiltFleet {
    /** The fleet runs as containers on one Docker engine. */
    readonly backend: "docker";
    /** Its containers, network, image pulls and (unless given one) Docker provider. */
    readonly workload: WorkloadModule.DockerWorkload;
}

/** The arguments of a Docker fleet's `DockerWorkload`: its own, without how the fleet is watched. */
export function dockerWorkloadArgsOf(args: DockerFleetArgs): WorkloadModule.DockerWorkloadArgs {
    const { backend: _backend, stack: _stack, alerts: _alerts, probes: _probes, pushgateway: _pushgateway, probeImage: _image, ...workload } = args;
    return workload;
}

/**
 * What a stack shows of a Docker fleet.
 *
 * @group Fleets
 */
export interface DockerFleetOutputs {
    /** The fleet runs as containers on one Docker engine. */
    readonly backend: "docker";
    /** The generation each slot runs, by slot. */
    readonly generations: WorkloadModule.DockerWorkload["generations"];
    /** The containers' names, by slot. */
    readonly containers: WorkloadModule.DockerWorkload["containerNames"];
}

/** The Docker backend, as the fleet registry lists it. */
export const dockerFleetBackend: FleetBackend<DockerFleetArgs, DockerFleet, DockerFleetOutputs, DockerFleetConfig, WorkloadModule.DockerWorkloadArgs, DockerProbeTarget> = {
    name: "docker",
    maxSize: DOCKER_MAX_SIZE,
    releaseKind: "container",
    problems: (args) => containerProbeProblems(args, Array.isArray(args.probes) ? args.probes.length : 0).map(formatProblem),
    build(name: string, args: DockerFleetArgs, stack: string, opts: pulumi.ComponentResourceOptions): DockerFleet {
        // The component's module loads the provider SDK: only a stack with a Docker fleet loads it.
        const { DockerWorkload } = require("./workload") as typeof WorkloadModule;
        const workload = new DockerWorkload(name, dockerWorkloadArgsOf(args), opts);
        // Probes run on the fleet's Docker engine, on its network, to reach its members.
        const target: DockerProbeTarget = {
            backend: "docker",
            pushgateway: args.pushgateway ?? "",
            network: workload.network.name,
            ...(args.probeImage !== undefined ? { image: args.probeImage } : {}),
        };
        const probeOpts = { ...opts, provider: workload.provider };
        return {
            name,
            backend: "docker",
            workload,
            ruleGroup: defaultAlerts(fleetAlertInput(name, args, stack)),
            probes: fleetProbes(name, stack, args.probes, target, probeOpts),
        };
    },
    ruleFile: true,
    outputs: (fleet) => ({ backend: "docker", generations: fleet.workload.generations, containers: fleet.workload.containerNames }),
    memberTypes: ["docker:index/container:Container"],
    memberLabels: (_type, inputs) => containerLabels(inputs),
    policy: dockerFleetPolicy,
    // Read by herd apply and herd plan only: a program does not load it.
    batches: lazy(() => (require("./batches") as typeof BatchesModule).dockerBatches),
    config: dockerConfigBackend,
    stackProgram: dockerStackProgram,
    probeRunner: dockerProbeRunner,
};
