export * from "./generation";
export * from "./container";
