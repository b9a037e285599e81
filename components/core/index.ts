export * from "./dependencies";
