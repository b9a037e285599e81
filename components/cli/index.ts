export * from "./diff";
export * from "./edit";
export * from "./io";
export * from "./main";
export * from "./report";
