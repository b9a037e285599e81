export * from "./generation";
export * from "./container";
export * from "./secrets";
