import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { deserializeProperties, specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";

/**
 * A recorded input that is a secret: its value, under the engine's secret marking.
 *
 * @group Testing
 */
export interface SecretInput {
    /** The value the secret holds. */
    readonly value: unknown;
}

/**
 * Whether a recorded input is a secret: the engine receives it marked, and keeps it encrypted in
 * the state. Pulumi marks a whole property secret when any part of it is.
 *
 * @group Testing
 */
export function isSecret(value: unknown): value is SecretInput {
    return value !== null && typeof value === "object" && (value as Record<string, unknown>)[specialSigKey] === specialSecretSig;
}

/**
 * Where a text appears in plain sight in a value: every path (`.envs[2]`, `.metadata.name`) whose
 * string holds it outside a secret. A text that appears only inside secrets gives none.
 *
 * @group Testing
 */
export function plainTextPaths(value: unknown, text: string, at = ""): string[] {
    if (typeof value === "string") {
        return value.includes(text) ? [at || "."] : [];
    }
    if (value === null || typeof value !== "object" || isSecret(value)) {
        return [];
    }
    return Object.entries(value).flatMap(([key, inner]) => [
        ...(key.includes(text) ? [`${at}[key ${JSON.stringify(key)}]`] : []),
        ...plainTextPaths(inner, text, Array.isArray(value) ? `${at}[${key}]` : `${at}.${key}`),
    ]);
}

/**
 * The options a resource was registered with, as the engine would receive them.
 *
 * @group Testing
 */
export interface RecordedOptions {
    /** URN of the parent resource; `undefined` for a top-level resource. */
    readonly parent?: string;
    /**
     * URNs this resource waits for: explicit `dependsOn` and the resources its inputs come from
     * (the engine receives them as one list).
     */
    readonly dependsOn: readonly string[];
    /** Properties whose change replaces the resource. */
    readonly replaceOnChanges: readonly string[];
    /** `true` when a replacement deletes the old resource before creating the new one. */
    readonly deleteBeforeReplace: boolean;
    /** The plain value of `replacementTrigger`, or `undefined` when not set. */
    readonly replacementTrigger?: unknown;
    /** `true` when the engine refuses to delete the resource. */
    readonly protect: boolean;
    /** `true` when deleting the resource leaves it in the cloud. */
    readonly retainOnDelete: boolean;
    /** Properties whose changes the engine ignores. */
    readonly ignoreChanges: readonly string[];
    /** Outputs kept secret besides those the provider marks. */
    readonly additionalSecretOutputs: readonly string[];
    /** Aliases as URNs or alias specs (`{ name, type, parentUrn, … }`). */
    readonly aliases: readonly unknown[];
    /** Provider reference (`urn::id`), when one was given. */
    readonly provider?: string;
}

/**
 * One registered resource: what it is, its inputs and its options.
 *
 * @group Testing
 */
export interface RecordedResource {
    /** The resource's URN. */
    readonly urn: string;
    /** Type token, e.g. `openstack:compute/instance:Instance` or `herd:openstack:ServerGroup`. */
    readonly type: string;
    /** Pulumi resource name (the last part of the URN). */
    readonly name: string;
    /** `false` for component resources. */
    readonly custom: boolean;
    /** The inputs it was registered with, every Output resolved. */
    readonly inputs: Record<string, unknown>;
    /** The options it was registered with. */
    readonly options: RecordedOptions;
}

/**
 * A mock resource monitor that records every registration request with its options, then lets
 * Pulumi's own `MockMonitor` answer it. `pulumi.runtime.setMocks` shows `newResource` only
 * the inputs; this sees parent, dependencies, replaceOnChanges, deleteBeforeReplace, protect…
 *
 * @group Testing
 */
export class RecordingMonitor extends MockMonitor {
    /** Every registration so far, in the order the engine answered them. */
    readonly recorded: RecordedResource[] = [];

    /** Records a registration request, then answers it as Pulumi's mock monitor does. */
    override async registerResource(req: any, callback: (err: any, innerResponse: any) => void): Promise<void> {
        const inputs = deserializeProperties(req.getObject()) as Record<string, unknown>;
        const trigger = req.getReplacementTrigger();
        const options: RecordedOptions = {
            parent: req.getParent() || undefined,
            dependsOn: [...req.getDependenciesList()].sort(),
            replaceOnChanges: req.getReplaceonchangesList(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            replacementTrigger: trigger === undefined ? undefined : trigger.toJavaScript(),
            protect: req.getProtect() === true,
            retainOnDelete: req.getRetainondelete() === true,
            ignoreChanges: req.getIgnorechangesList(),
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            aliases: [...req.getAliasurnsList(), ...req.getAliasesList().map((alias: any) => alias.toObject())],
            provider: req.getProvider() || undefined,
        };
        return super.registerResource(req, (err, response) => {
            if (!err) {
                this.recorded.push({
                    urn: response.getUrn(),
                    type: req.getType(),
                    name: req.getName(),
                    custom: req.getCustom(),
                    inputs,
                    options,
                });
            }
            callback(err, response);
        });
    }
}
