import { labelsFrom, type MemberLabels } from "../fleet/backend";
import { fleetLabel, type FleetPolicy, type PolicyResourceView, type PolicyViolation, resourcesOfType } from "../fleet/policy";
import { HERD_LABELS } from "../release/container";

/** What the policy pack asks of a Kubernetes fleet, read from what its `KubernetesWorkload` registered. */

/** The types of resource that run pods from a template, whoever created them. */
export const POD_WORKLOADS: readonly string[] = ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet"];
const SERVICE = "kubernetes:core/v1:Service";
const HOSTNAME = "kubernetes.io/hostname";

type SecurityContext = { runAsNonRoot?: boolean; runAsUser?: number };
type Container = { name?: string; image?: unknown; securityContext?: SecurityContext; resources?: { limits?: Record<string, unknown> }; readinessProbe?: unknown; ports?: unknown[] };
type PodSpec = { containers?: Container[]; securityContext?: SecurityContext; affinity?: { podAntiAffinity?: unknown }; topologySpreadConstraints?: { topologyKey?: string }[] };

/** The pod template's spec of a pod workload's inputs (`{}` when it has none). */
export function podSpecOf(props: Record<string, unknown>): PodSpec {
    const spec = props.spec as { template?: { spec?: PodSpec } } | undefined;
    return spec?.template?.spec ?? {};
}

/** herd's labels on a Deployment: its pods' labels name the fleet, role and generation. */
export function podTemplateLabels(inputs: Readonly<Record<string, unknown>>): MemberLabels {
    const template = ((inputs.spec ?? {}) as { template?: { metadata?: { labels?: unknown } } }).template;
    return labelsFrom(template?.metadata?.labels, { fleet: HERD_LABELS.fleet, role: HERD_LABELS.role, generation: HERD_LABELS.generation });
}

const replicas = (workload: PolicyResourceView) => Number((workload.props.spec as { replicas?: number } | undefined)?.replicas ?? 1);
const workloadsOf = (children: readonly PolicyResourceView[]) => children.filter((r) => POD_WORKLOADS.includes(r.type));

/** The Kubernetes backend's answers to the policy pack's fleet rules. */
export const kubernetesFleetPolicy: FleetPolicy = {
    componentType: "herd:kubernetes:Workload",
    members: (fleet) => workloadsOf(fleet.children).reduce((sum, workload) => sum + replicas(workload), 0),
    spreadViolations(fleet): PolicyViolation[] {
        return workloadsOf(fleet.children).flatMap((workload) => {
            const pod = podSpecOf(workload.props);
            const spread = (pod.topologySpreadConstraints ?? []).some((c) => c.topologyKey === HOSTNAME) || pod.affinity?.podAntiAffinity !== undefined;
            return spread
                ? []
                : [{ message: `${fleetLabel(fleet)} is not spread: Deployment "${workload.name}" has no topology spread constraint or pod anti-affinity over ${HOSTNAME}`, urn: workload.urn }];
        });
    },
    healthViolations(fleet): PolicyViolation[] {
        const serving = resourcesOfType(fleet.children, SERVICE).length > 0;
        return workloadsOf(fleet.children).flatMap((workload) => {
            const containers = podSpecOf(workload.props).containers ?? [];
            const servesHere = serving || containers.some((c) => (c.ports ?? []).length > 0);
            return containers
                .filter((c) => servesHere && c.readinessProbe === undefined)
                .map((container) => ({
                    message: `${fleetLabel(fleet)} serves but Deployment "${workload.name}" container "${container.name}" has no readiness probe: give the fleet a health check`,
                    urn: workload.urn,
                }));
        });
    },
    // The canary Deployment's replicas; without one, every member runs one release.
    membersOnNewRelease(fleet, members) {
        const deployments = fleet.children.filter((r) => r.type === "kubernetes:apps/v1:Deployment");
        const canary = deployments.find((d) => podTemplateLabels(d.props).role === "canary");
        return canary ? replicas(canary) : members > 0 ? deployments.reduce((sum, d) => sum + replicas(d), 0) : 0;
    },
};
