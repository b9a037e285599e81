import { ConfigError } from "./errors";
import type { CodeFleetState, ReleaseKeys } from "./schema";
import { ROLLOUTS_KEY } from "./validate";

/** Release keys of an OpenStack member, as the {@link ServerGroup} takes them. */
const SERVER_KEYS = ["image", "flavor", "networks", "keyPair", "securityGroups", "userData"] as const;
/** Release keys of a container member, as the Kubernetes and Docker workloads take them. */
const CONTAINER_KEYS = ["image", "port", "command", "args", "env", "files"] as const;

/**
 * What a fleet built in code runs, with what the stack file pins for it.
 *
 * @group Stack config
 */
export interface StackPinnedRelease<R> {
    /** The program's release with the keys `herd:rollouts.<fleet>.release` pins laid over it. */
    readonly release: R;
    /** The rollout under way, when the stack file has one: what the component's `rollout` takes. */
    readonly rollout?: {
        /** The program's release with `rollout.previous`'s keys over it. */
        readonly previous?: R;
        /** How many slots run `release`. */
        readonly members: number;
    };
}

/**
 * The release and rollout of a fleet built in code, as the stack file pins them under
 * `herd:rollouts.<fleet>` (validated with {@link parseRollouts}): the keys it gives (an image,
 * say) are laid over the release the program builds, so the program keeps what does not move
 * between environments and the stack file what does, which `herd release`, `herd promote` and
 * `herd rollback` rewrite. With no entry for the fleet, the program's release runs on every slot.
 *
 * A release with a `flavor` is an OpenStack one and takes the {@link ServerGroup}'s release keys;
 * any other a container one.
 *
 * @param fleet the fleet's name, as the component is named
 * @param release the release the program builds
 * @param rollouts the validated value of `herd:rollouts`
 * @param stack the stack, for the message
 * @throws ConfigError when the stack file pins a key this kind of release does not have
 *
 * @group Stack config
 */
export function releaseFromStack<R extends object>(
    fleet: string,
    release: R,
    rollouts: Readonly<Record<string, CodeFleetState>>,
    stack: string,
): StackPinnedRelease<R> {
    const state = rollouts[fleet];
    if (!state) {
        return { release };
    }
    const allowed: readonly string[] = "flavor" in release ? SERVER_KEYS : CONTAINER_KEYS;
    const kind = "flavor" in release ? "an OpenStack release" : "a container release";
    const pinned = (keys: ReleaseKeys | undefined, at: string[]): R => {
        const wrong = Object.keys(keys ?? {}).filter((key) => !allowed.includes(key));
        if (wrong.length > 0) {
            throw new ConfigError(
                stack,
                wrong.map((key) => ({
                    path: [ROLLOUTS_KEY, fleet, ...at, key],
                    value: (keys as Record<string, unknown>)[key],
                    allowed: `a key of ${kind} (fleet ${fleet} is built with one): ${allowed.join(", ")}`,
                    unknownKey: true,
                })),
            );
        }
        return { ...release, ...keys };
    };
    const current = pinned(state.release, ["release"]);
    if (!state.rollout) {
        return { release: current };
    }
    const previous = state.rollout.previous && pinned(state.rollout.previous, ["rollout", "previous"]);
    return { release: current, rollout: { members: state.rollout.members, ...(previous ? { previous } : {}) } };
}
