import type { MemberLabels } from "../fleet/backend";
import { memberLabelsOf } from "../fleet/backends";
import { canonicalJson } from "../release";
import type { RecordedResource } from "../testing";

/**
 * What `pulumi up` would do to a member: `update` is for members that roll their pods themselves
 * (a Kubernetes Deployment, updated in place); every other member is replaced, never patched.
 */
export type Action = "create" | "replace" | "update" | "delete";

/**
 * A member resource: a custom resource of a backend's member type (see `FleetBackend.memberTypes`)
 * that runs a release, marked with a `replacementTrigger` or a generation label, read where the
 * backend puts it (`herd-generation` in Nova metadata, `herd.dev/generation` on containers and on
 * a Deployment's pods).
 */
export interface Member {
    readonly urn: string;
    readonly type: string;
    /** Pulumi resource name, e.g. `web-3`. */
    readonly name: string;
    /** The fleet: its fleet label, else the name of its parent component. */
    readonly fleet: string | null;
    /** The slot: its slot label, else the number ending `${fleet}-${slot}`; `null` for a group of pods. */
    readonly slot: number | null;
    /** Its role label (`stable`, `canary`), for members that are a group of pods. */
    readonly role: string | null;
    /** The generation it runs: its generation label, else a string `replacementTrigger`. */
    readonly generation: string | null;
    /** Whether a change replaces it (it has a `replacementTrigger`) rather than updating it in place. */
    readonly replaced: boolean;
    /**
     * The update batch it belongs to, counted from 1: one more than the longest chain of members
     * it waits for (directly or through other resources), as the engine orders them.
     */
    readonly batch: number;
    /** Canonical JSON of its inputs and replacement trigger: equal fingerprints, nothing to do. */
    readonly fingerprint: string;
}

/** One member that `pulumi up` would create, replace, update or delete. */
export interface Change {
    readonly action: Action;
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly fleet: string | null;
    readonly slot: number | null;
    /** The batch it is in: in the new state, or in the old one for a delete. */
    readonly batch: number;
    readonly generation: { readonly before: string | null; readonly after: string | null };
}

/**
 * herd's labels on a resource, read where its backend puts them (see `FleetBackend.memberLabels`):
 * `undefined` unless it is a custom resource of a backend's member type.
 */
function labelsOf(resource: RecordedResource): MemberLabels | undefined {
    return resource.custom ? memberLabelsOf(resource.type, resource.inputs) : undefined;
}

/** Whether a recorded resource is a member (see {@link Member}). */
export function isMember(resource: RecordedResource): boolean {
    const labels = labelsOf(resource);
    return labels !== undefined && (resource.options.replacementTrigger !== undefined || labels.generation !== undefined);
}

function nameOfUrn(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

function slotOf(resource: RecordedResource, fleet: string | null, label: string | undefined): number | null {
    const text = label ?? (fleet !== null && resource.name.startsWith(`${fleet}-`) ? resource.name.slice(fleet.length + 1) : undefined);
    return text !== undefined && /^(0|[1-9][0-9]*)$/.test(text) ? Number(text) : null;
}

/**
 * The members among the resources one evaluation of a program registered, each with its fleet,
 * slot, generation and batch.
 */
export function membersOf(resources: readonly RecordedResource[]): Member[] {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    // Members strictly before each resource on its longest dependency chain.
    const before = new Map<string, number>();
    const membersBefore = (urn: string, visiting: Set<string>): number => {
        const known = before.get(urn);
        if (known !== undefined) {
            return known;
        }
        const resource = byUrn.get(urn);
        if (!resource || visiting.has(urn)) {
            return 0;
        }
        visiting.add(urn);
        let count = 0;
        for (const dependency of resource.options.dependsOn) {
            const upstream = byUrn.get(dependency);
            if (upstream) {
                count = Math.max(count, membersBefore(dependency, visiting) + (isMember(upstream) ? 1 : 0));
            }
        }
        visiting.delete(urn);
        before.set(urn, count);
        return count;
    };
    return resources.filter(isMember).map((resource) => {
        const labels = labelsOf(resource) ?? {};
        const fleet = labels.fleet ?? (resource.options.parent ? nameOfUrn(resource.options.parent) : null);
        const trigger = resource.options.replacementTrigger;
        return {
            urn: resource.urn,
            type: resource.type,
            name: resource.name,
            fleet,
            slot: slotOf(resource, fleet, labels.slot),
            role: labels.role ?? null,
            generation: labels.generation ?? (typeof trigger === "string" ? trigger : null),
            replaced: trigger !== undefined,
            batch: membersBefore(resource.urn, new Set()) + 1,
            fingerprint: canonicalJson({ inputs: resource.inputs, replacementTrigger: trigger ?? null }),
        };
    });
}

function compareChanges(a: Change, b: Change): number {
    const fleet = (a.fleet ?? "").localeCompare(b.fleet ?? "");
    if (fleet !== 0) {
        return fleet;
    }
    if (a.batch !== b.batch) {
        return a.batch - b.batch;
    }
    if (a.slot !== null && b.slot !== null && a.slot !== b.slot) {
        return a.slot - b.slot;
    }
    return a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0;
}

/**
 * What `pulumi up` would do to the members when the stack goes from `before` to `after`, matched
 * by URN: a new URN is created, a missing one deleted, and one whose inputs or replacement
 * trigger differ is replaced (cattle are replaced, never patched), or updated when it has no
 * replacement trigger and rolls its pods itself. Sorted by fleet, batch and slot.
 */
export function diffMembers(before: readonly RecordedResource[], after: readonly RecordedResource[]): Change[] {
    const old = new Map(membersOf(before).map((m) => [m.urn, m]));
    const changes: Change[] = [];
    const change = (action: Action, member: Member, previous?: Member): Change => ({
        action,
        urn: member.urn,
        type: member.type,
        name: member.name,
        fleet: member.fleet,
        slot: member.slot,
        batch: member.batch,
        generation: {
            before: action === "create" ? null : (previous ?? member).generation,
            after: action === "delete" ? null : member.generation,
        },
    });
    for (const member of membersOf(after)) {
        const previous = old.get(member.urn);
        old.delete(member.urn);
        if (!previous) {
            changes.push(change("create", member));
        } else if (previous.fingerprint !== member.fingerprint) {
            changes.push(change(member.replaced || previous.replaced ? "replace" : "update", member, previous));
        }
    }
    for (const gone of old.values()) {
        changes.push(change("delete", gone));
    }
    return changes.sort(compareChanges);
}
