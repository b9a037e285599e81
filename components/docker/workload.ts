import * as pulumi from "@pulumi/pulumi";
import type * as docker from "@pulumi/docker";
import { ContainerRelease, deployTimeChecks, HERD_LABELS, MetricsEndpoint } from "../release/container";
import type { SecretValues } from "../release/secrets";
import { buildInBatches } from "../core/batches";
import type { HealthCheck } from "../core/health";
import { Rollout } from "../rollout";
import {
    CONTAINER_RELEASE_PROPERTIES,
    containerInputs,
    DEFAULT_DOCKER_HOST,
    imagesOf,
    networkResourceName,
    providerResourceName,
    ResolvedDockerWorkload,
    resolveDockerWorkload,
} from "./spec";

/**
 * Arguments of a {@link DockerWorkload}.
 *
 * @group Components
 */
export interface DockerWorkloadArgs {
    /** Number of slots (containers). */
    readonly size: number;
    /**
     * The release new containers run. Its env values and file contents may be wired from other
     * resources or secrets: they reach the containers as they resolve (a secret as a Pulumi
     * secret), the generation and names hold a placeholder naming their place, and a new value
     * recreates the containers holding it (`replaceOnChanges` on `envs` and `uploads`),
     * delete-before-create since their names stay. It is checked once it resolves (see `ContainerRelease`).
     */
    readonly release: ContainerRelease;
    /**
     * A rollout under way: slots `0 … members-1` run `release`, the others `previous`, which takes
     * wired values as `release` does. @default every slot runs `release`
     */
    readonly rollout?: Rollout<ContainerRelease>;
    /** How replacements proceed within one `pulumi up`. @default batches of a quarter of the size, at least 1, create-before-delete */
    readonly update?: {
        /** Containers per batch; batch k+1 starts once batch k is created (and healthy, with `health`). @default a quarter of the size, at least 1 */
        readonly batch?: number;
        /**
         * `delete-before-create` removes a slot's old container before starting the new one. A
         * member whose release holds a value wired from another resource is always replaced so,
         * and `create-before-delete` is refused for such a fleet. @default "create-before-delete"
         */
        readonly order?: "create-before-delete" | "delete-before-create";
    };
    /**
     * The check each container runs every 10 s; creation waits until the new container is
     * healthy. Docker runs every check inside the container, so each kind needs something there:
     * `{ path, port }` (HTTP) a GET through `/bin/sh` with the image's wget, curl or bash (see
     * `httpHealthScript`), else the port alone; `{ port }` (TCP) `/bin/sh`
     * alone, reading the kernel's socket table (see `tcpListenScript`); `{ command }` the
     * command given, run without a shell. @default no healthcheck
     */
    readonly health?: HealthCheck;
    /** The healthcheck test, replacing the one `health` gives, e.g. `["CMD", "/app", "health"]`. @default the test of `health` (see `defaultHealthCommand`) */
    readonly healthCommand?: readonly string[];
    /**
     * Publish the members' release port on the Docker host: slot `i` listens on `hostPort + i`.
     * A host port can be bound by one container at a time, so members with one are replaced
     * delete-before-create (a short gap per member; the others keep serving).
     * @default no published port: members are reachable on the fleet network only
     */
    readonly hostPort?: number;
    /** Host address the published ports listen on; `0.0.0.0` opens them to the network. @default "127.0.0.1" */
    readonly hostIp?: string;
    /** Memory limit of each container, in MB. @default 256 */
    readonly memory?: number;
    /** CPUs each container may use, e.g. `"0.5"`. @default "0.5" */
    readonly cpus?: string;
    /** Where Prometheus scrapes each container (`prometheus.io/*` labels, for Docker service discovery); `false` for no scraping. @default the release's port, `/metrics` */
    readonly metrics?: MetricsEndpoint | false;
    /**
     * Docker daemon the component's own provider connects to (`unix://…`, `tcp://…`, `ssh://…`).
     * Leave it out when passing a Docker provider in `opts.provider`/`opts.providers`.
     * @default "unix:///var/run/docker.sock"
     */
    readonly host?: string;
    /**
     * Keep pulled images on the host when the fleet stops using them. Two fleets running one
     * image each hold a pull of it; removing it for one would fail while the other runs it.
     * @default true
     */
    readonly keepImages?: boolean;
    /**
     * Plaintext of the secrets the releases hold, by marker (`[secret 1a2b3c4d]`, see
     * `secretMarker`), as strings or Outputs: an env value or file content holding a marker reaches the container as a
     * Pulumi secret, its plaintext in place of the marker. The generation and names see only
     * the marker. @default none: markers stay as they are, still marked secret
     */
    readonly secrets?: SecretValues;
}

/**
 * A fleet of interchangeable containers on one Docker engine: one container per slot
 * (`${name}-${slot}`, named `${name}-${slot}-${generation}-${settings}` on the host) on the fleet's own
 * network, replaced (never updated) whenever its release changes, in batches that wait for each
 * other, labelled for `docker ps` and Prometheus discovery. The local counterpart of a
 * Kubernetes or OpenStack fleet, for development stacks.
 *
 * The container name carries the generation and a hash of every other input of the container
 * (health check, metrics labels, host address, limits…), so whatever replaces a container, a
 * new release or a changed setting, the new one never collides with the name of the one it
 * replaces.
 *
 * @example Two Redis containers on the local engine, checked on their port
 * ```ts
 * import { DockerWorkload } from "pulumi-herd";
 *
 * const cache = new DockerWorkload("cache", {
 *     size: 2,
 *     release: { image: "docker.io/library/redis:7.4", port: 6379 },
 *     health: { port: 6379 },
 *     memory: 128,
 * });
 * export const containers = cache.containerNames;
 * ```
 *
 * @group Components
 */
export class DockerWorkload extends pulumi.ComponentResource {
    /** The settings and per-slot plan every container was built from. */
    readonly workload: ResolvedDockerWorkload;
    /** The Docker provider every child uses: the one given in opts, or the component's own. */
    readonly provider: pulumi.ProviderResource;
    /** The fleet's own bridge network; `<fleet>` resolves to every member on it. */
    readonly network: docker.Network;
    /** One pull per distinct image. */
    readonly images: readonly docker.RemoteImage[];
    /** Container per slot. */
    readonly containers: readonly docker.Container[];
    /** Docker container name per slot. */
    readonly containerNames: readonly string[];
    /** Generation per slot. */
    readonly generations: readonly string[];

    constructor(name: string, args: DockerWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before the component itself is registered: a refused fleet leaves nothing behind.
        const workload = resolveDockerWorkload(name, args);
        super("herd:docker:Workload", name, {}, opts);
        // The Docker SDK loads when a fleet uses it, not when herd is imported (a second or more).
        const docker = require("@pulumi/docker") as typeof import("@pulumi/docker");
        this.workload = workload;
        const atDeploy = deployTimeChecks(name, [
            ["release", args.release],
            ["rollout.previous", args.rollout?.previous],
        ]);

        const given = this.getProvider("docker:index/container:Container");
        if (given && args.host !== undefined) {
            throw new Error(`DockerWorkload "${name}": host = ${JSON.stringify(args.host)} and a Docker provider in opts both say where to run; give one`);
        }
        this.provider = given ?? new docker.Provider(providerResourceName(name), { host: args.host ?? DEFAULT_DOCKER_HOST }, { parent: this });
        const childOpts = { parent: this, provider: this.provider };

        this.network = new docker.Network(
            networkResourceName(name),
            { driver: "bridge", labels: [{ label: HERD_LABELS.fleet, value: name }] },
            childOpts,
        );
        const imageIds = new Map<string, pulumi.Output<string>>();
        this.images = imagesOf(workload).map(({ resourceName, image }) => {
            const pulled = new docker.RemoteImage(resourceName, { name: image, keepLocally: workload.keepImages }, childOpts);
            imageIds.set(image, pulled.imageId);
            return pulled;
        });

        this.containers = buildInBatches(
            workload.members,
            (member, dependsOn) =>
                new docker.Container(
                    member.resourceName,
                    containerInputs(
                        workload,
                        member,
                        { image: imageIds.get(member.release.image) as pulumi.Output<string>, network: this.network.name },
                        args.secrets ?? new Map(),
                        atDeploy,
                    ),
                    {
                        ...childOpts,
                        dependsOn,
                        replaceOnChanges: [...CONTAINER_RELEASE_PROPERTIES],
                        replacementTrigger: member.generation,
                        deleteBeforeReplace: member.deleteBeforeReplace,
                    },
                ),
            (container) => [container],
        );
        this.containerNames = workload.members.map((member) => member.containerName);
        this.generations = workload.members.map((member) => member.generation);
        this.registerOutputs({ containerNames: this.containerNames, generations: this.generations });
    }
}
