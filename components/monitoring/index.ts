export * from "./rules";
export * from "./probe";
export * from "./gate";
