export * from "./config";
export * from "./openstack";
export * from "./release";
export * from "./rollout";
