export * from "./errors";
export * from "./schema";
export * from "./validate";
export * from "./stackFile";
export * from "./resolve";
export * from "./rollouts";
export * from "./secrets";
