export { alertRuleFile, buildFleet, type DockerFleet, type Fleet, type KubernetesFleet, type OpenStackFleet } from "./fleet";
export type { ContainerProbeArgs, DockerFleetArgs, FleetAlerts, FleetArgs, FleetMonitoringArgs, KubernetesFleetArgs, OpenStackFleetArgs } from "./plan";
export {
    stackProgram,
    type DockerFleetOutputs,
    type FleetOutputs,
    type KubernetesFleetOutputs,
    type OpenStackFleetOutputs,
    type StackProgramOptions,
    type StackProgramOutputs,
} from "./stack";
