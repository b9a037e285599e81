/**
 * The Docker class of herd's component package (`herd:index:DockerWorkload`), its arguments in the
 * package's vocabulary and their mapping onto the SDK's (see `fleet/componentPackage.ts`).
 */
import * as pulumi from "@pulumi/pulumi";
import { fleetNameProblems, refuseArguments } from "../core/arguments";
import { fleetProblems } from "../fleet/backends";
import {
    alertRulesOf,
    CONTAINER_OUTPUTS,
    type ContainerRelease,
    containerReleaseArgs,
    type ContainerRollout,
    defined,
    type FleetAlerts,
    type HealthCheck,
    healthOf,
    type MetricsEndpoint,
    metricsOf,
    outputProblems,
    type Probe,
    UpdateOrder,
    type UpdatePolicy,
    watchedArgs,
} from "../fleet/componentPackage";
import { buildFleet } from "../fleet/fleet";
import { type DockerFleetArgs, dockerWorkloadArgsOf } from "./fleet";
import { resolveDockerWorkload } from "./spec";
import type { DockerWorkloadArgs } from "./workload";

/** Arguments of a {@link DockerWorkload}. */
export interface DockerWorkloadComponentArgs {
    /** Number of slots (containers). */
    size: number;
    /** The release new containers run. */
    release: ContainerRelease;
    /** A rollout under way: slots `0 … members-1` run `release`, the others `previous`. Defaults to none. */
    rollout?: ContainerRollout;
    /** How replacements proceed within one `pulumi up`. */
    update?: UpdatePolicy;
    /** The check run inside each container: HTTP (with `wget`), TCP (with `/bin/sh` alone) or a command. Defaults to none. */
    health?: HealthCheck;
    /** The healthcheck test, replacing the one `health` gives. Defaults to the test of `health`. */
    healthCommand?: string[];
    /** Publish the release port on the host: slot `i` listens on `hostPort + i`. Defaults to none. */
    hostPort?: number;
    /** Host address the published ports listen on. Defaults to `127.0.0.1`. */
    hostIp?: string;
    /** Memory limit of each container, in MB. Defaults to 256. */
    memory?: number;
    /** CPUs each container may use, e.g. `0.5`. Defaults to `0.5`. */
    cpus?: string;
    /** Defaults to scraping the release's port at `/metrics`. */
    metrics?: MetricsEndpoint;
    /** Docker daemon to connect to. Defaults to `unix:///var/run/docker.sock`. */
    host?: string;
    /** Keep pulled images when the fleet stops using them. Defaults to `true`. */
    keepImages?: boolean;
    /** The fleet's default alerts. Defaults to `minHealthy` the size minus one update batch, `memberDownFor` 5m. */
    alerts?: FleetAlerts;
    /** Probes run as containers on the fleet's network, each with an alert of its own; they need `pushgateway`. Defaults to none. */
    probes?: Probe[];
    /** Base URL of the Prometheus Pushgateway probes push their counts to. Defaults to none. */
    pushgateway?: string;
    /** The image probe containers run in (a POSIX shell and `wget`). Defaults to `docker.io/library/busybox:1.37`. */
    probeImage?: string;
}

/** A Docker fleet holding a secret given as an Output cannot be replaced create-before-delete: see {@link dockerWorkloadArgs}. */
function secretOrderProblems(args: DockerWorkloadComponentArgs): string[] {
    if (args.update?.order !== UpdateOrder.CreateBeforeDelete || containerReleaseArgs(args).secrets === undefined) {
        return [];
    }
    return [
        'update.order = "create-before-delete": expected delete-before-create (or no order) for a fleet whose env or files hold an Output: ' +
            "a new value of it recreates containers under the names they have, and a new container cannot take the name of one that still runs",
    ];
}

/**
 * The TypeScript SDK's {@link DockerWorkloadArgs} for a {@link DockerWorkloadComponentArgs}. A
 * fleet holding a secret given as an Output is replaced delete-before-create unless told
 * otherwise: a new value recreates containers under the names they have (see {@link SecretReleases}).
 */
export function dockerWorkloadArgs(args: DockerWorkloadComponentArgs): DockerWorkloadArgs {
    const releases = containerReleaseArgs(args);
    const order = args.update?.order ?? (releases.secrets ? UpdateOrder.DeleteBeforeCreate : undefined);
    return defined({
        size: args.size,
        ...releases,
        update: (args.update || order) && defined({ ...args.update, order }),
        health: healthOf(args.health),
        healthCommand: args.healthCommand,
        hostPort: args.hostPort,
        hostIp: args.hostIp,
        memory: args.memory,
        cpus: args.cpus,
        metrics: metricsOf(args.metrics),
        host: args.host,
        keepImages: args.keepImages,
    });
}

/**
 * A fleet of interchangeable containers on one Docker engine: one container per slot on the
 * fleet's own network, replaced (never updated) whenever its release changes, in batches;
 * monitored from birth: a container per probe, and its default and probe alerts in
 * {@link DockerWorkload.alertRules}.
 */
export class DockerWorkload extends pulumi.ComponentResource {
    /** Docker container name per slot. */
    readonly containerNames: pulumi.Output<string[]>;
    /** Generation per slot. */
    readonly generations: pulumi.Output<string[]>;
    /** The fleet's alerts, as a Prometheus rule file for the Prometheus that scrapes its containers. */
    readonly alertRules: pulumi.Output<string>;

    constructor(name: string, args: DockerWorkloadComponentArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before this component registers, the SDK's checks included: a refused fleet leaves nothing behind.
        refuseArguments("herd:index:DockerWorkload", name, [...fleetNameProblems(name), ...outputProblems(args, CONTAINER_OUTPUTS), ...secretOrderProblems(args)]);
        const fleetArgs: DockerFleetArgs = { backend: "docker", ...dockerWorkloadArgs(args), ...watchedArgs(args) };
        refuseArguments("herd:index:DockerWorkload", name, fleetProblems(name, fleetArgs));
        resolveDockerWorkload(name, dockerWorkloadArgsOf(fleetArgs));
        super("herd:index:DockerWorkload", name, {}, opts);
        const fleet = buildFleet(name, fleetArgs, { parent: this });
        this.containerNames = pulumi.output([...fleet.workload.containerNames]);
        this.generations = pulumi.output([...fleet.workload.generations]);
        this.alertRules = alertRulesOf(fleet);
        this.registerOutputs({ containerNames: this.containerNames, generations: this.generations, alertRules: this.alertRules });
    }
}
