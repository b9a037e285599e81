/** Namespaces every cluster has: herd never creates (or deletes) them. */
export const BUILT_IN_NAMESPACES: readonly string[] = ["default", "kube-node-lease", "kube-public", "kube-system"];

/**
 * The namespaces a stack must create for its Kubernetes fleets: each one a fleet names, once,
 * sorted (so the program registers them in the same order every run), without the built-in ones.
 */
export function namespacesToCreate(namespaces: Iterable<string>): string[] {
    return [...new Set(namespaces)].filter((namespace) => !BUILT_IN_NAMESPACES.includes(namespace)).sort();
}

/** Pulumi resource name of a namespace herd creates: `namespace-api`. */
export function namespaceResourceName(namespace: string): string {
    return `namespace-${namespace}`;
}

/**
 * The arguments of a namespace herd creates: named exactly (a namespace is what the fleets'
 * objects refer to by name), labelled as herd's.
 */
export function buildNamespace(namespace: string) {
    return { metadata: { name: namespace, labels: { "app.kubernetes.io/managed-by": "herd" } } };
}
