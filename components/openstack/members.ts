import * as pulumi from "@pulumi/pulumi";
import { Recent } from "../core/recent";
import type { ProbeSpec } from "../monitoring/probe";
import { deployTimePlaceholder, generationOf, isDeployTimeValue } from "../release/generation";
import { assignSlots, batchesOf, defaultBatch, Rollout } from "../rollout";
import { OPENSTACK_MAX_SIZE } from "./schema";
import {
    cloudConfigProblems,
    deployTimeUserData,
    encodedUserDataSize,
    parseCloudConfig,
    toUserData,
    USER_DATA_MAX_ENCODED_BYTES,
    withHerdDefaults,
    withReleaseIdentity,
} from "./userData";

export { deployTimePlaceholder } from "../release/generation";

/**
 * What an OpenStack member runs. Two members with the same release are identical.
 *
 * `networks` items, `securityGroups` items, `keyPair` and `userData` also take a value wired from
 * another resource (`network.id`, a secret, a rendered template): herd cannot see such a value
 * when it plans, so the generation holds a placeholder naming its place (`networks[0]: an input
 * known at deploy time`) and does not change when the value does; the instance's
 * `replaceOnChanges` on that property makes the engine replace the member instead. Such a change
 * therefore replaces every member running the release in one `pulumi up` (in its update
 * batches), not wave by wave, and the checks that need the value (names and IDs) are left to the
 * cloud. A secret stays secret.
 *
 * @group Releases and rollouts
 */
export interface ServerRelease {
    /** Image ID (preferred: IDs do not move) or image name. A UUID is passed as `imageId`, anything else as `imageName`. */
    readonly image: string;
    /** Flavor name, or flavor ID when it is a UUID. A flavor change replaces the member (never an in-place resize). */
    readonly flavor: string;
    /**
     * Networks the member is plugged into, in order: names or IDs (UUIDs), plain or wired from
     * another resource (a UUID is passed as `uuid`, anything else as `name`, once known). At least one.
     */
    readonly networks: readonly pulumi.Input<string>[];
    /** Nova key pair name, plain or wired from another resource (`keyPair.name`). @default none */
    readonly keyPair?: pulumi.Input<string>;
    /**
     * Security group names added to the fleet's own group, in the form the provider reads back
     * (names), plain or wired from another resource (`group.name`). @default []
     */
    readonly securityGroups?: readonly pulumi.Input<string>[];
    /**
     * A `#cloud-config` document (the file's text). herd adds node_exporter, the probes and the
     * release identity. Plain text is parsed and checked (cloud-config shape, at most 65,535 bytes
     * base64-encoded with herd's additions) before anything is registered. Text wired from another
     * resource or a secret (`pulumi.secret(text)`, a template filled with `pulumi.interpolate`) is
     * rendered and checked the same way once it resolves, the deployment failing with a message
     * naming the fleet and the key (never the text) when it does not pass; the generation holds a
     * placeholder for it, and the instance's `replaceOnChanges` on `userData` replaces the members
     * when it changes. A secret stays secret. @default "#cloud-config"
     */
    readonly userData?: pulumi.Input<string>;
}

/**
 * A release as it reaches the cloud: what the generation is computed from.
 *
 * @group Releases and rollouts
 */
export interface ResolvedServerRelease {
    /** Image ID or name. */
    readonly image: string;
    /** Flavor name or ID. */
    readonly flavor: string;
    /** Networks, names or IDs, in order; an item wired from another resource is known at deploy time only. */
    readonly networks: readonly pulumi.Input<string>[];
    /** Nova key pair name, when there is one. */
    readonly keyPair?: pulumi.Input<string>;
    /** Security group names: the fleet's own first, then the release's. */
    readonly securityGroups: readonly pulumi.Input<string>[];
    /**
     * herd's rendered cloud-config without the generation (which is derived from it); for user
     * data known only at deploy time, herd's additions to a placeholder naming it (see
     * `deployTimeUserData`).
     */
    readonly userData: string;
}

/**
 * One slot of the fleet, as herd will create it.
 *
 * @group Releases and rollouts
 */
export interface MemberPlan {
    /** The slot number, `0 … size-1`. */
    readonly slot: number;
    /** Pulumi resource name, stable for the slot: `${fleet}-${slot}`. */
    readonly resourceName: string;
    /** Cloud-side name, changes with the release: `${fleet}-${slot}-${generation}`. */
    readonly serverName: string;
    /** Generation of the release the slot runs. */
    readonly generation: string;
    /** `true` when the slot runs the fleet's new `release`, `false` when it still runs `rollout.previous`. */
    readonly current: boolean;
    /** Index of the update batch this slot belongs to. */
    readonly batch: number;
    /** The release the slot runs, as it reaches the cloud. */
    readonly release: ResolvedServerRelease;
    /**
     * The user data the member boots with: the release's cloud-config plus its identity. For user
     * data known only at deploy time, what herd plans in its place (see
     * {@link ResolvedServerRelease.userData}), the member booting with {@link MemberPlan.deployedUserData}.
     */
    readonly userData: string;
    /** For user data known only at deploy time: the user data the member boots with, rendered and checked once it resolves. @default none */
    readonly deployedUserData?: pulumi.Output<string>;
}

/**
 * What {@link planMembers} plans a fleet from.
 *
 * @group Releases and rollouts
 */
export interface PlanInput {
    /** Number of slots. */
    readonly size: number;
    /** The release new members run. */
    readonly release: ServerRelease;
    /** A rollout under way: slots `0 … members-1` run `release`, the others `previous`. @default every slot runs `release` */
    readonly rollout?: Rollout<ServerRelease>;
    /** @default a quarter of the size, at least 1 */
    readonly batch?: number;
    /** Cloud-side name of the fleet's own security group, which every member joins. */
    readonly securityGroupName: string;
    /** Probes installed on every member (they are part of the user data, so of the generation). @default [] */
    readonly probes?: readonly ProbeSpec[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for OpenStack IDs, which are passed as IDs rather than names. */
export function isUuid(value: string): boolean {
    return UUID.test(value);
}

/** A release rendered as it reaches the cloud: its generation and the user data its members boot with. */
export interface RenderedRelease {
    /** The release as it reaches the cloud. */
    readonly resolved: ResolvedServerRelease;
    /** Its generation. */
    readonly generation: string;
    /** The user data its members boot with: the release's cloud-config, herd's additions and the release identity. */
    readonly userData: string;
    /** For user data known only at deploy time: the user data its members boot with, rendered and checked once it resolves. @default none */
    readonly deployedUserData?: pulumi.Output<string>;
}

/**
 * The cloud-side name of a fleet's security group and Nova server group: `groupName` when given,
 * else `herd-<fleet>`. The security group's name is part of every member's user data, so the
 * component, the stack config's checks and the preflight must agree on it.
 */
export function groupNameOf(fleet: string, args: { readonly groupName?: string }): string {
    return args.groupName ?? `herd-${fleet}`;
}

/**
 * Renders a release once, as every member that runs it gets it. The stack config checks its
 * user data with this before anything exists (its size, once rendered, is what Nova limits).
 *
 * @param label how messages name the release, e.g. `release` or `rollout.previous`
 */
export function renderRelease(
    fleet: string,
    release: ServerRelease,
    input: Pick<PlanInput, "securityGroupName" | "probes">,
    label: string,
): RenderedRelease {
    const key = renderedKey(fleet, release, input);
    if (key === undefined) {
        return renderAnew(fleet, release, input, label);
    }
    return rendered.get(key, () => {
        const result = renderAnew(fleet, release, input, label);
        return Object.freeze({ ...result, resolved: freezeResolved(result.resolved) });
    });
}

/**
 * Releases rendered lately, by everything their rendering reads. A program renders each release
 * two or three times (the stack config's size check, the plan, the generation it reports), and
 * parsing and writing YAML is most of what that costs. Only releases of plain strings are kept
 * (one wired from another resource has an Output to render), frozen, since every caller gets the
 * same object; the label is left out, as it only names the release in a message, and a release
 * that fails to render is not kept.
 */
const rendered = new Recent<string, RenderedRelease>(32);

function renderedKey(fleet: string, release: ServerRelease, input: Pick<PlanInput, "securityGroupName" | "probes">): string | undefined {
    const probes = (input.probes ?? []).map((p) => [p.name, p.script, p.every, p.metric, p.alert?.expr, p.alert?.for, p.alert?.severity, p.alert?.summary]);
    const parts: unknown[] = [
        fleet,
        release.image,
        release.flavor,
        release.keyPair,
        release.userData,
        input.securityGroupName,
        ...(Array.isArray(release.networks) ? release.networks : [{}]),
        ...(release.securityGroups ?? []),
        ...probes.flat(),
    ];
    if (!parts.every((part) => part === undefined || typeof part === "string")) {
        return undefined;
    }
    return JSON.stringify([fleet, release.image, release.flavor, release.networks, release.keyPair, release.securityGroups, release.userData, input.securityGroupName, probes]);
}

function freezeResolved(resolved: ResolvedServerRelease): ResolvedServerRelease {
    Object.freeze(resolved.networks);
    Object.freeze(resolved.securityGroups);
    return Object.freeze(resolved);
}

function renderAnew(
    fleet: string,
    release: ServerRelease,
    input: Pick<PlanInput, "securityGroupName" | "probes">,
    label: string,
): RenderedRelease {
    const given = release.userData ?? "#cloud-config\n";
    const deployTime = isDeployTimeValue(given);
    let cloudConfig;
    try {
        cloudConfig = withHerdDefaults(parseCloudConfig(deployTime ? "#cloud-config\n" : (given as string)), input.probes);
    } catch (err) {
        throw new Error(`fleet "${fleet}": ${label}.userData ${(err as Error).message}`);
    }
    const placeholder = deployTimePlaceholder("userData");
    const resolved: ResolvedServerRelease = {
        image: release.image,
        flavor: release.flavor,
        networks: [...release.networks],
        ...(release.keyPair === undefined ? {} : { keyPair: release.keyPair }),
        securityGroups: [input.securityGroupName, ...(release.securityGroups ?? [])],
        userData: deployTime ? deployTimeUserData(cloudConfig, placeholder) : toUserData(cloudConfig),
    };
    // A release of plain strings is hashed as it is, so its generation is what it always was.
    const generation = generationOf({
        ...resolved,
        networks: release.networks.map((network, i) => knownAtPlan(network, `networks[${i}]`)),
        ...(release.keyPair === undefined ? {} : { keyPair: knownAtPlan(release.keyPair, "keyPair") }),
        securityGroups: [input.securityGroupName, ...(release.securityGroups ?? []).map((group, i) => knownAtPlan(group, `securityGroups[${i}]`))],
    });
    if (!deployTime) {
        return { resolved, generation, userData: toUserData(withReleaseIdentity(cloudConfig, fleet, generation)) };
    }
    return {
        resolved,
        generation,
        userData: deployTimeUserData(withReleaseIdentity(cloudConfig, fleet, generation), placeholder),
        deployedUserData: pulumi.output(given).apply((text) => renderDeployedUserData(fleet, label, text, input.probes, generation)),
    };
}

/**
 * Renders user data that resolved at deploy time as plain user data is rendered when herd plans
 * (herd's additions, the release identity), with the checks plain user data gets before anything
 * is registered: a `#cloud-config` mapping herd can add to, in the shape cloud-init takes, at most
 * {@link USER_DATA_MAX_ENCODED_BYTES} once base64-encoded. Throws an Error naming the fleet and the
 * key, never the text, which fails the deployment.
 */
export function renderDeployedUserData(
    fleet: string,
    label: string,
    text: unknown,
    probes: readonly ProbeSpec[] | undefined,
    generation: string,
): string {
    const where = `fleet "${fleet}": ${label}.userData (wired from another resource, checked once it resolved)`;
    if (typeof text !== "string") {
        throw new Error(`${where} is not a string: expected the text of a #cloud-config document`);
    }
    let userData: string;
    try {
        const cloudConfig = parseCloudConfig(text);
        const shapes = cloudConfigProblems(cloudConfig);
        if (shapes.length > 0) {
            throw new Error(`is not a cloud-config cloud-init takes: ${shapes.join("; ")}`);
        }
        userData = toUserData(withReleaseIdentity(withHerdDefaults(cloudConfig, probes), fleet, generation));
    } catch (err) {
        throw new Error(`${where} ${(err as Error).message}`);
    }
    const encoded = encodedUserDataSize(userData);
    if (encoded > USER_DATA_MAX_ENCODED_BYTES) {
        throw new Error(`${where}: ${encoded} bytes once base64-encoded with herd's additions; Nova takes at most ${USER_DATA_MAX_ENCODED_BYTES}`);
    }
    return userData;
}

/** A value as herd sees it when it plans: a plain string as it is, anything else (an Output, a promise) as a placeholder naming its place. */
function knownAtPlan(value: pulumi.Input<string>, place: string): string {
    return typeof value === "string" ? value : deployTimePlaceholder(place);
}

/**
 * Plans every slot of an OpenStack fleet: which release it runs, its generation, names, batch and
 * user data. Pure: the same input gives the same plan, byte for byte. Each distinct release is
 * rendered once, however large the fleet.
 *
 * @group Releases and rollouts
 */
export function planMembers(fleet: string, input: PlanInput): MemberPlan[] {
    if (Number.isSafeInteger(input.size) && input.size > OPENSTACK_MAX_SIZE) {
        throw new RangeError(`fleet "${fleet}": size = ${input.size}: expected at most ${OPENSTACK_MAX_SIZE} members: the most one openstack fleet may have`);
    }
    const current = renderRelease(fleet, input.release, input, "release");
    const previous = input.rollout?.previous && renderRelease(fleet, input.rollout.previous, input, "rollout.previous");
    const slots = assignSlots<RenderedRelease>(
        input.size,
        current,
        input.rollout && { members: input.rollout.members, previous },
    );
    const batch = input.batch ?? defaultBatch(input.size);
    batchesOf(input.size, batch);
    return slots.map(({ slot, release, current: isCurrent }) => ({
        slot,
        resourceName: `${fleet}-${slot}`,
        serverName: `${fleet}-${slot}-${release.generation}`,
        generation: release.generation,
        current: isCurrent,
        batch: Math.floor(slot / batch),
        release: release.resolved,
        userData: release.userData,
        ...(release.deployedUserData ? { deployedUserData: release.deployedUserData } : {}),
    }));
}

/** Instance inputs of one member, in the form the provider reads back (so a second preview is empty). */
export function instanceInputs(member: MemberPlan, fleet: string, metadata: Readonly<Record<string, string>> = {}) {
    const { release } = member;
    return {
        name: member.serverName,
        ...(isUuid(release.image) ? { imageId: release.image } : { imageName: release.image }),
        ...(isUuid(release.flavor) ? { flavorId: release.flavor } : { flavorName: release.flavor }),
        ...(release.keyPair === undefined ? {} : { keyPair: release.keyPair }),
        networks: release.networks.map((network) =>
            typeof network === "string" ? networkInput(network) : pulumi.output(network).apply(networkInput),
        ),
        securityGroups: [...release.securityGroups],
        userData: member.deployedUserData ?? member.userData,
        metadata: {
            ...metadata,
            "herd-fleet": fleet,
            "herd-slot": String(member.slot),
            "herd-generation": member.generation,
        },
        tags: [`herd-fleet=${fleet}`, `herd-generation=${member.generation}`],
    };
}

/** A network of an instance in the form the provider reads back: by ID when it is a UUID, else by name. */
function networkInput(network: string) {
    return isUuid(network) ? { uuid: network } : { name: network };
}

/**
 * Instance properties whose change must replace the member. Most are force-new in the provider
 * already; `flavorName`/`flavorId` are not (the provider resizes in place) and neither are
 * `securityGroups` (updated in place), which would patch a member instead of replacing it.
 */
export const RELEASE_PROPERTIES = [
    "imageId",
    "imageName",
    "flavorId",
    "flavorName",
    "keyPair",
    "networks",
    "securityGroups",
    "userData",
    "schedulerHints",
] as const;

/**
 * The engine's name for "the last create of this resource failed" (`#initerror`), given to
 * `replaceOnChanges`. A server that Nova could not build (ERROR, e.g. "No valid host was found")
 * stays in the state with the failure recorded; without this the next `pulumi up` would only
 * update it in place and leave it broken. With it, the next `up` replaces that member (and its
 * pool member and volume attachment), and nothing else.
 */
export const FAILED_CREATE = "#initerror";
