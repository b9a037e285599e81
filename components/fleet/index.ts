export type { ApplyBatch, BatchRequest, BatchSession, FleetBatches, FleetSlots, PlanCheck, PlanCheckRequest, SlotGeneration, StateResource } from "./batches";
export type { BuiltFleet, FleetBackend, FleetHeal, HealRequest, MemberLabels, OnBackend, StackBuild, StackContext, StackFleet } from "./backend";
export { type BackendName, FLEET_BACKENDS, type FleetArgsOf, type FleetOf } from "./backends";
export { alertRuleFile, buildFleet, type Fleet, type FleetArgs } from "./fleet";
export type { CommonFleetArgs, ContainerProbeArgs, FleetAlerts, FleetMonitoringArgs } from "./plan";
export { stackProgram, type FleetOutputs, type StackProgramOptions, type StackProgramOutputs } from "./stack";
export { checkFleets, type CheckedFleets, type FleetConfig, type FleetConfigOf, MAX_FLEET_SIZE, parseFleets } from "./config";
export {
    checkBackendSettings,
    releaseGeneration,
    resolveFleets,
    resolveStack,
    type ResolvedFleet,
    type ResolvedStack,
    type SettingsOf,
    type StackInput,
    type StackOptions,
    type StackSettings,
    stackInputOf,
    type WorkloadArgsOf,
} from "./resolve";
