export * from "./rules";
export * from "./probe";
export * from "./gate";
export * from "./probeComponent";
