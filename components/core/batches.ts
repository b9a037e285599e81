import type * as pulumi from "@pulumi/pulumi";

/**
 * Builds a fleet's members in their update batches, each batch waiting for the one before it:
 * whatever a member of batch k gives back (its server or container, and what completes it: a
 * volume attachment, a pool member) is the `dependsOn` of every member of batch k+1, so a batch
 * that fails to come up stops the rest of the rollout. Members of one batch wait for the same
 * things and so are created side by side.
 *
 * Backend-neutral and pure: it constructs nothing itself, and works on any member that knows its
 * batch (slot order, batch indexes rising) and any kind of thing to wait for.
 *
 * @param members the fleet's members in slot order, each with the index of its update batch
 * @param build builds one member, given what it waits for (a list of its own)
 * @param waitedFor what the next batch waits for of one built member
 * @param first what the first batch waits for (the fleet's security rules, say) @default []
 * @returns what `build` returned, in the order of `members`
 */
export function buildInBatches<Member extends { readonly batch: number }, Built, Waited = pulumi.Resource>(
    members: readonly Member[],
    build: (member: Member, dependsOn: Waited[]) => Built,
    waitedFor: (built: Built) => readonly Waited[],
    first: readonly Waited[] = [],
): Built[] {
    let previousBatch: readonly Waited[] = first;
    let currentBatch: Waited[] = [];
    let batchIndex = 0;
    return members.map((member) => {
        if (member.batch !== batchIndex) {
            previousBatch = currentBatch;
            currentBatch = [];
            batchIndex = member.batch;
        }
        const built = build(member, [...previousBatch]);
        currentBatch.push(...waitedFor(built));
        return built;
    });
}
