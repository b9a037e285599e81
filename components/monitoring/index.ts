export * from "./rules";
export * from "./probe";
