import { spawnSync } from "node:child_process";
import * as path from "node:path";
import type { FleetHeal, HealRequest } from "../fleet/backend";
import { HERD_LABELS } from "../release/container";
import type { KubernetesFleetConfig, KubernetesSettings } from "./schema";

/**
 * How `herd robot` replaces a member of a Kubernetes fleet that is down: its members are pods of
 * the fleet's Deployments, which are not in Pulumi's state, so the robot evicts the pod through
 * the Kubernetes eviction API. The eviction respects the fleet's PodDisruptionBudget, and the
 * Deployment starts the replacement.
 */

/** A Kubernetes pod name, as `herd_slot` carries it on Kubernetes fleets. */
const POD_NAME = /^[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?$/;

interface Pod {
    metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
    status?: { conditions?: { type: string; status: string }[] };
}

const isReady = (pod: Pod) => !pod.metadata.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

type Request = HealRequest<Partial<Pick<KubernetesFleetConfig, "namespace">>, KubernetesSettings>;

/** Runs kubectl against the stack's cluster (`herd:kubernetes`: its kubeconfig, relative to the project, and context). */
function kubectl(request: Request, args: readonly string[], input?: string): { status: number; stdout: string; stderr: string } {
    const settings = request.settings ?? {};
    const config = [
        ...(settings.kubeconfig ? ["--kubeconfig", path.resolve(request.projectDir, settings.kubeconfig)] : []),
        ...(settings.context ? ["--context", settings.context] : []),
    ];
    const result = spawnSync("kubectl", [...config, ...args], { env: request.env, encoding: "utf8", input, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    if (result.error) {
        throw new Error(`kubectl: ${result.error.message}`);
    }
    return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr.trim() };
}

/**
 * Evicts one pod of the fleet, after checking that it is one (its `herd.dev/fleet` label) and
 * that the fleet's other ready pods reach `minHealthy`.
 */
async function evict(request: Request): Promise<string> {
    const { fleet, member: pod } = request;
    const namespace = request.config.namespace ?? "default";
    const listed = kubectl(request, ["get", "pods", "--namespace", namespace, "--selector", `${HERD_LABELS.fleet}=${fleet}`, "--output", "json"]);
    if (listed.status !== 0) {
        throw new Error(`cannot list the pods of fleet ${fleet}: ${listed.stderr}`);
    }
    const pods = (JSON.parse(listed.stdout) as { items: Pod[] }).items;
    const found = pods.find((p) => p.metadata.name === pod);
    if (!found) {
        throw new Error(`no pod ${pod} of fleet ${fleet} in namespace ${namespace} (gone already, or not the fleet's)`);
    }
    if (found.metadata.deletionTimestamp) {
        return `pod ${pod} is being deleted already: nothing to do`;
    }
    const readyOthers = pods.filter((p) => p !== found && isReady(p)).length;
    if (readyOthers < request.minHealthy) {
        throw new Error(`not evicting pod ${pod}: ${readyOthers} other pods of fleet ${fleet} are ready, below minHealthy ${request.minHealthy}`);
    }
    const eviction = { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod, namespace } };
    const evicted = kubectl(request, ["create", "--raw", `/api/v1/namespaces/${namespace}/pods/${pod}/eviction`, "-f", "-"], JSON.stringify(eviction));
    if (evicted.status !== 0) {
        throw new Error(`the eviction of pod ${pod} was refused: ${evicted.stderr}`);
    }
    return `evicted pod ${pod} (uid ${found.metadata.uid}) of fleet ${fleet}; its Deployment starts a new one`;
}

/** How `herd robot` heals a Kubernetes fleet: a member is one of its pods, evicted. */
export const kubernetesHeal: FleetHeal<Partial<Pick<KubernetesFleetConfig, "namespace">>, KubernetesSettings> = {
    memberProblem: (fleet, member) =>
        POD_NAME.test(member) && member.startsWith(`${fleet.name}-`) ? undefined : `"${member}" is not the name of a pod of fleet ${fleet.name} (${fleet.name}-…)`,
    replace: evict,
};
