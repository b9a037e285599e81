/**
 * Names and labels of a Kubernetes fleet's objects: the Pulumi resource names of its Deployments,
 * ConfigMaps, Secrets and PodDisruptionBudget, the labels each object carries, the selectors that
 * find its pods, and the fixed names inside a pod (container, ports) and of the spread's topology
 * key. Every name comes from the fleet's name and a role only: names are contract, since a renamed
 * child is a new resource that replaces the old one unless the rename ships `aliases`.
 */
import { HERD_LABELS } from "../release/container";
import type { ResolvedWorkload, Role, RolePlan } from "./plan";

/** Namespace of a fleet that names none. */
export const DEFAULT_NAMESPACE = "default";
/** Name of the container in every pod, and of its serving port (the Service targets it by name). */
export const CONTAINER_NAME = "app";
/** Name of the container's serving port, which the Service targets. */
export const PORT_NAME = "http";
/** Name of the container's metrics port, when metrics are served on a port of their own. */
export const METRICS_PORT_NAME = "metrics";
/** Members are spread over nodes. */
export const TOPOLOGY_KEY = "kubernetes.io/hostname";

/** Pulumi resource name of a role's Deployment: `${name}-stable`, `${name}-canary`. */
export function deploymentName(name: string, role: Role): string {
    return `${name}-${role}`;
}

/** Pulumi resource name of a role's ConfigMap: `${name}-stable-env`, `${name}-canary-files`. */
export function configMapName(name: string, role: Role, kind: "env" | "files"): string {
    return `${name}-${role}-${kind}`;
}

/** Pulumi resource name of a role's Secret, holding the env values and files that are secrets: `${name}-stable-secret-env`. */
export function secretName(name: string, role: Role, kind: "env" | "files"): string {
    return `${name}-${role}-secret-${kind}`;
}

/** Pulumi resource name of the PodDisruptionBudget. */
export function disruptionBudgetName(name: string): string {
    return `${name}-pdb`;
}

/** Labels every object of the fleet carries. */
export function fleetLabels(name: string): Record<string, string> {
    return { "app.kubernetes.io/name": name, [HERD_LABELS.fleet]: name };
}

/** Labels of a role's Deployment and ConfigMaps. */
export function roleLabels(name: string, role: Role): Record<string, string> {
    return { ...fleetLabels(name), [HERD_LABELS.role]: role };
}

/** Labels of a pod: its fleet, role and generation, so `kubectl get pods -L herd.dev/generation` shows who runs what. */
export function podLabels(name: string, plan: RolePlan): Record<string, string> {
    return { ...roleLabels(name, plan.role), [HERD_LABELS.generation]: plan.generation };
}

/**
 * A Deployment's selector: fleet and role only. A selector is immutable once created, so it must
 * not contain the generation (a new release would then fail, or force a delete-then-create).
 */
export function deploymentSelector(name: string, role: Role): Record<string, string> {
    return { [HERD_LABELS.fleet]: name, [HERD_LABELS.role]: role };
}

/** The Service's and PodDisruptionBudget's selector: every pod of the fleet, stable and canary. */
export function fleetSelector(name: string): Record<string, string> {
    return { "app.kubernetes.io/name": name, [HERD_LABELS.fleet]: name };
}

/** Metadata of a child object. `name` is set only with `fixedNames`; otherwise Pulumi names it (`web-stable-1a2b3c4d`). */
export function objectMeta(workload: ResolvedWorkload, resourceName: string, labels: Record<string, string>) {
    return {
        namespace: workload.namespace,
        labels,
        ...(workload.fixedNames ? { name: resourceName } : {}),
    };
}
