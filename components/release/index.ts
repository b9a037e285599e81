export * from "./generation";
