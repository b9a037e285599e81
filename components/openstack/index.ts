export * from "./members";
export * from "./serverGroup";
export * from "./userData";
export * from "./hosts";
