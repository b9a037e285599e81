import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { buildFleet } from "pulumi-herd";

/** `herd-guarded:api` in the stack file. */
interface ApiConfig {
    size: number;
    image: string;
}

const api = new pulumi.Config().requireObject<ApiConfig>("api");
// Manifests go to a folder instead of a cluster: the policy pack sees the same resources either way.
const provider = new k8s.Provider("render", { renderYamlToDirectory: "manifests" });

const fleet = buildFleet(
    "api",
    {
        backend: "kubernetes",
        namespace: "api",
        size: api.size,
        release: { image: api.image, port: 8080 },
        health: { path: "/ready", port: 8080 },
    },
    { provider },
);
export const generations = fleet.workload.generations;
