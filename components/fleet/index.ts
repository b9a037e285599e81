export { alertRuleFile, buildFleet, type DockerFleet, type Fleet, type KubernetesFleet, type OpenStackFleet } from "./fleet";
export type { ContainerProbeArgs, DockerFleetArgs, FleetAlerts, FleetArgs, FleetMonitoringArgs, KubernetesFleetArgs, OpenStackFleetArgs } from "./plan";
