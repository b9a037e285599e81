import * as pulumi from "@pulumi/pulumi";
import { DockerWorkload, parseRollouts, releaseFromStack, ServerGroup, waveSchedule, type ServerRelease } from "herd";

/** `herd-consumer:edge` in the stack file. */
interface EdgeConfig {
    size: number;
    image: string;
    flavor: string;
    network: string;
}

/** `herd-consumer:cache` in the stack file. */
interface CacheConfig {
    size: number;
    image: string;
}

// Components never read config: the program does, and passes plain values in.
const stack = pulumi.getStack();
const config = new pulumi.Config();
const edge = config.requireObject<EdgeConfig>("edge");
const cache = config.requireObject<CacheConfig>("cache");
// The release and rollout the stack file pins for fleets built here (`herd:rollouts`), which
// `herd release`, `herd promote` and `herd rollback` rewrite.
const rollouts = parseRollouts(new pulumi.Config("herd").getObject("rollouts"), stack);

const edgeRelease: ServerRelease = {
    image: edge.image,
    flavor: edge.flavor,
    networks: [edge.network],
    userData: "#cloud-config\npackages: [haproxy]\n",
};

const edgeFleet = new ServerGroup("edge", {
    size: edge.size,
    ...releaseFromStack("edge", edgeRelease, rollouts, stack),
    spread: "anti-affinity",
    health: { path: "/healthz", port: 8080 },
    update: { batch: 1 },
});

const cacheFleet = new DockerWorkload("cache", {
    size: cache.size,
    release: { image: cache.image, port: 8080 },
    health: { path: "/healthz", port: 8080 },
    memory: 128,
});

/** Name, generation and address of every edge server, by slot. */
export const edgeServers = edgeFleet.servers;
/** Docker container name of every cache slot. */
export const cacheContainers = cacheFleet.containerNames;
/** Where a rollout of the edge fleet would stop: 1, then every member. */
export const edgeWaves = waveSchedule(edge.size);
