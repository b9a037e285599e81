export * from "./auth";
export * from "./executor";
export * from "./fleets";
export * from "./log";
export * from "./planner";
export * from "./server";
export * from "./webhook";
