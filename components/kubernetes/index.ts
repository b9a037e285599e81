export * from "./config";
export * from "./spec";
export * from "./workload";
export * from "./monitoring";
export * from "./namespaces";
export * from "./pod";
