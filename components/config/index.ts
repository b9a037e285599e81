export * from "./errors";
export * from "./schema";
export * from "./validate";
export * from "./stackFile";
export type { ConfigBackend, ResolvedConfig, ResolveOptions, SettingsBackend } from "./backend";
export type { ProjectFiles } from "./files";
export * from "./rollouts";
export * from "./secrets";
