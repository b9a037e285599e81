import * as pulumi from "@pulumi/pulumi";

/**
 * The `dependsOn` of a component's child: what the component was told to wait for, plus the
 * child's own dependencies. The engine orders a component's children by their own options only,
 * so a component that was given `dependsOn` (its namespace, a network) passes it on, or its
 * children would be created before what they need exists.
 *
 * @param opts the component's options
 * @param own the child's own dependencies (a previous batch, say)
 */
export function childDependsOn(
    opts: pulumi.ComponentResourceOptions | undefined,
    own: readonly pulumi.Resource[] = [],
): pulumi.Input<pulumi.Input<pulumi.Resource>[]> {
    const inherited = opts?.dependsOn;
    if (inherited === undefined) {
        return [...own];
    }
    return pulumi.output(inherited).apply((given) => [...(Array.isArray(given) ? given : [given]), ...own]);
}
