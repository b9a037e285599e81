export * from "./slots";
export * from "./waves";
