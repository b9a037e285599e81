export * from "./batches";
export * from "./dependencies";
