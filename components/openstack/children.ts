import type * as pulumi from "@pulumi/pulumi";

/**
 * One child of a `ServerGroup` as its builder plans it, before anything is registered: the
 * component registers it as it is, adding itself as the parent (and, for a member, the batch it
 * waits for). Builders are plain functions of the fleet's plan, so tests read their output
 * without mocks.
 */
export interface ChildSpec<Args> {
    /** Pulumi resource name, part of the URN: a new name replaces the resource. */
    readonly resourceName: string;
    /** The resource's inputs. */
    readonly args: Args;
    /** The child's own options; `{}` when it has none. */
    readonly opts: ChildOptions;
}

/** The options a builder decides: how the child is replaced and kept. */
export type ChildOptions = Pick<
    pulumi.CustomResourceOptions,
    "protect" | "retainOnDelete" | "deleteBeforeReplace" | "replaceOnChanges" | "replacementTrigger"
>;
