export * from "./config";
export * from "./monitoring";
export * from "./openstack";
export * from "./release";
export * from "./rollout";
