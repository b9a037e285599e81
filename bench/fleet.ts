import { ContainerRelease } from "../components/release";

/** The fleets the benchmark builds: one OpenStack fleet behind a load balancer, one Kubernetes fleet. */
export const NETWORK_ID = "6f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73";
export const IMAGE_ID = "3f1c2a9e-7b6d-4e58-9c0a-2d4b8e6f1a73";

export const USER_DATA = `#cloud-config
packages:
  - nginx
runcmd:
  - [systemctl, enable, --now, nginx]
`;

/** Members replaced per batch in the benchmark's fleets. */
export const BATCH = 10;

/** `herd:fleets` for an OpenStack fleet of `size` members. */
export function openstackFleets(size: number) {
    return {
        web: {
            backend: "openstack",
            size,
            release: { image: IMAGE_ID, flavor: "b3-8", network: NETWORK_ID, keyPair: "ops", userData: "bench/web.yaml" },
            // A fixed batch, as production stacks set it: every member of a batch depends on every
            // member of the batch before, so the dependency lists grow with the batch size.
            update: { batch: BATCH },
            spread: "soft-anti-affinity",
            health: { path: "/healthz", port: 80 },
            loadBalancer: { port: 80 },
        },
    };
}

export const API_RELEASE: ContainerRelease = {
    image: "registry.example.org/api@sha256:5b0e8c1f3a2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
    port: 8080,
    env: { LOG_LEVEL: "info" },
};

/** `herd:fleets` for a Kubernetes fleet of `size` replicas (slots). */
export function kubernetesFleets(size: number) {
    return {
        api: {
            backend: "kubernetes",
            namespace: "api",
            size,
            release: API_RELEASE,
            update: { batch: BATCH },
            health: { path: "/ready", port: 8080 },
        },
    };
}
