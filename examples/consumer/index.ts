import * as pulumi from "@pulumi/pulumi";
import { alertRuleFile, buildFleet, parseRollouts, releaseFromStack, waveSchedule, type ServerRelease } from "pulumi-herd";

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

/** Counts HAProxy's restarts since boot: the probe's alert fires while it is above 0. */
const haproxyRestarts = `#!/bin/sh
systemctl show haproxy --property=NRestarts --value
`;

// buildFleet gives each fleet its default alerts (fewer than minHealthy up, a member down for
// 5 minutes) and its probes, as herd's own program does for the fleets of a stack file.
const edgeFleet = buildFleet("edge", {
    backend: "openstack",
    size: edge.size,
    ...releaseFromStack("edge", edgeRelease, rollouts, stack),
    spread: "anti-affinity",
    health: { path: "/healthz", port: 8080 },
    update: { batch: 1 },
    probes: [{ name: "haproxy_restarts", script: haproxyRestarts, every: "1m" }],
});

const cacheFleet = buildFleet("cache", {
    backend: "docker",
    size: cache.size,
    release: { image: cache.image, port: 8080 },
    health: { path: "/healthz", port: 8080 },
    memory: 128,
    alerts: { minHealthy: 1 },
});

/** Name, generation and address of every edge server, by slot. */
export const edgeServers = edgeFleet.workload.servers;
/** Docker container name of every cache slot. */
export const cacheContainers = cacheFleet.workload.containerNames;
/** Where a rollout of the edge fleet would stop: 1, then every member. */
export const edgeWaves = waveSchedule(edge.size);
/** The alerts of both fleets, as a rule file for the Prometheus that scrapes them. */
export const alertRules = alertRuleFile([edgeFleet, cacheFleet]);
