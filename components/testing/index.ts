export * from "./program";
export * from "./recorder";
