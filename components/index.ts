export * from "./config";
export * from "./docker";
export * from "./fleet";
export * from "./kubernetes";
export * from "./monitoring";
export * from "./openstack";
export * from "./release";
export * from "./rollout";
