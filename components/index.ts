// The public API of `pulumi-herd`, name by name: what a program, a component package or a test
// builds on. Everything else in components/ (spec builders, the stack-config schema and grammar,
// file readers, the command line's parsers) is internal and free to change; a name added here is
// a promise, so test/package/exports.test.ts lists every runtime name and fails on any other.
// The test kit is the second entry point, `pulumi-herd/testing` (components/testing).

// Fleets: one call builds a fleet with its alerts, monitoring objects and probes (buildFleet), a
// stack's whole program from its config (stackProgram), and the rule file of the fleets outside
// Kubernetes (alertRuleFile).
export { alertRuleFile, buildFleet, stackProgram } from "./fleet";
export type {
    BuiltFleet,
    CommonFleetArgs,
    ContainerProbeArgs,
    Fleet,
    FleetAlerts,
    FleetArgs,
    FleetMonitoringArgs,
    FleetOutputs,
    StackProgramOptions,
    StackProgramOutputs,
} from "./fleet";
export type { OpenStackFleet, OpenStackFleetArgs, OpenStackFleetOutputs } from "./openstack/fleet";
export type { KubernetesFleet, KubernetesFleetArgs, KubernetesFleetOutputs } from "./kubernetes/fleet";
export type { DockerFleet, DockerFleetArgs, DockerFleetOutputs } from "./docker/fleet";

// The fleet registry: one entry per backend, the seam a backend implements.
export { FLEET_BACKENDS } from "./fleet";
export type { BackendName, FleetArgsOf, FleetBackend, FleetHeal, FleetOf, HealRequest, MemberLabels, OnBackend, StackBuild, StackContext, StackFleet } from "./fleet";
export type { ConfigBackend, ResolvedConfig, SettingsBackend } from "./config/backend";
export type { FleetPolicy, PolicyFleet, PolicyResourceView, PolicyViolation } from "./fleet/policy";
export type { BatchRequest, BatchSession, FleetBatches, FleetSlots, PlanCheck, PlanCheckRequest, SlotGeneration, StateResource } from "./fleet/batches";

// Components: one backend's workload alone, and its arguments.
export { ServerGroup } from "./openstack/serverGroup";
export type { DataVolumeArgs, IngressRule, LoadBalancerArgs, ServerGroupArgs, ServerOutput } from "./openstack/serverGroup";
export type { MemberPlan, PlanInput, ResolvedServerRelease, ServerRelease } from "./openstack/members";
export { KubernetesWorkload } from "./kubernetes/workload";
export type { KubernetesWorkloadArgs, PlainNamespaceWorkloadArgs } from "./kubernetes/workload";
export type { ContainerResources, EmptyDirSource, KubernetesVolume, PodSettings, ResolvedPodSettings, ResolvedVolume, ResourceQuantities } from "./kubernetes/pod";
export type { Toleration, WorkloadPlacement } from "./kubernetes/placement";
export type { ResolvedSecurity, ResolvedWorkload, Role, RolePlan, WorkloadSecurity, WorkloadUpdate } from "./kubernetes/plan";
export { DockerWorkload } from "./docker/workload";
export type { DockerWorkloadArgs } from "./docker/workload";
export type { DockerMemberPlan, ResolvedDockerWorkload } from "./docker/spec";

// Health checks: what every serving fleet is checked with.
export type { CommandHealthCheck, HealthCheck, HttpHealthCheck, TcpHealthCheck } from "./core/health";

// Releases and rollouts: what a member runs and its generation, how secrets travel in a
// release, the labels members carry, and the pure rollout model (which slot runs which release,
// where a rollout's waves stop).
export { GENERATION_LENGTH, generationOf } from "./release/generation";
export { HERD_LABELS } from "./release/container";
export type { ContainerRelease, MetricsEndpoint } from "./release/container";
export { secretMarker } from "./release/secrets";
export type { SecretValues, SecureValue } from "./release/secrets";
export { assignSlots } from "./rollout/slots";
export type { Rollout, SlotRelease } from "./rollout/slots";
export { DEFAULT_WAVES, nextWave, waveSchedule } from "./rollout/waves";
export { planMembers } from "./openstack/members";

// Monitoring: alert rules and rule files, probes, and the Prometheus Operator's objects.
export { defaultAlerts, ruleFile } from "./monitoring/rules";
export type { AlertRule, CanaryGate, FleetAlertInput, RuleGroup } from "./monitoring/rules";
export { DEFAULT_PROBE_IMAGE, Probe } from "./monitoring/probeComponent";
export type { ProbeArgs, ProbeTarget } from "./monitoring/probeComponent";
export type { DockerProbeTarget } from "./docker/probe";
export type { KubernetesProbeTarget } from "./kubernetes/probe";
export type { ProbeSpec } from "./monitoring/probe";
export { KubernetesMonitoring, kubernetesMembersUp } from "./kubernetes/monitoring";
export { scrapePort } from "./kubernetes/manifests";
export type { KubernetesMonitoringArgs } from "./kubernetes/monitoring";

// Stack config: a stack's herd:* keys validated and resolved into each fleet's arguments, for a
// program that builds from them; herd:rollouts for fleets built in code.
export { parseFleets, releaseGeneration, resolveFleets, resolveStack } from "./fleet";
export type { FleetConfig, FleetConfigOf, ResolvedFleet, ResolvedStack, SettingsOf, StackInput, StackOptions, StackSettings, WorkloadArgsOf } from "./fleet";
export type { ResolveOptions } from "./fleet/resolve";
export { parseRollouts } from "./config/validate";
export { releaseFromStack } from "./config/rollouts";
export type { StackPinnedRelease } from "./config/rollouts";
export { isPulumiSecretKey, STORED_CONFIG_VARIABLE, storedStackConfig } from "./config/secrets";
export type { StackConfig } from "./config/stackFile";
export type { ProjectFiles } from "./config/files";
export type { CodeFleetState, MonitoringSettings, ReleaseKeys } from "./config/schema";
export type { OpenStackFleetConfig, OpenStackSettings } from "./openstack/schema";
export type { KubernetesFleetConfig, KubernetesSettings } from "./kubernetes/schema";
export type { DockerFleetConfig } from "./docker/schema";

// Errors: a wrong config or argument, all its problems in one message.
export { ConfigError } from "./config/errors";
export type { ConfigProblem } from "./config/errors";
