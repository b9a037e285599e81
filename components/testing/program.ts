import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { STORED_CONFIG_VARIABLE } from "../config/secrets";
import { YAML } from "../config/lazy";
import { readStackConfig, StackConfig } from "../config/stackFile";
// From the package root, not its module: the built package's root is one file (scripts/bundle.ts),
// and a test process then holds one fleet registry, the program's.
import { FLEET_BACKENDS } from "..";
import { holdsSecureValue, isSecureValue } from "../release/secrets";
import { plainTextPaths, RecordedResource, RecordingMonitor } from "./recorder";

/**
 * How to run a Pulumi program (or a function that builds resources) under mocks.
 *
 * @group Testing
 */
export interface RunOptions {
    /**
     * The program: the path of its entry module (e.g. the project's `index.ts`), which is loaded
     * afresh on every run, or a function that builds resources and returns the outputs.
     */
    readonly program: string | (() => unknown);
    /** Stack name the program sees (`pulumi.getStack()`). @default "test" */
    readonly stack?: string;
    /**
     * Project directory: where `Pulumi.yaml` and the stack files are. The program finds it as it
     * does under `pulumi up`, as `pulumi.runtime.getRootDirectory()` (`stackProgram`'s default).
     * @default the program's directory, else cwd
     */
    readonly projectDir?: string;
    /** Project name. @default the `name` in `Pulumi.yaml`, else "project" */
    readonly project?: string;
    /**
     * Stack config, keys as in a stack file (`"herd:fleets": {…}`). @default the `config:` of
     * `Pulumi.<stack>.yaml` in the project directory, or nothing when there is no such file
     */
    readonly config?: StackConfig;
    /**
     * Plaintext of encrypted config values (`{ secure: <ciphertext> }`, as `pulumi config set
     * --secret` writes them), by ciphertext: the program reads each as `pulumi up` gives it,
     * decrypted, with its key marked secret, and the stored config (`secure:` values and all) is
     * where herd finds which values are secret. An encrypted value without a plaintext here stays
     * `{ secure: … }`, an opaque secret, as `herd plan` sees it. @default none
     */
    readonly secrets?: Readonly<Record<string, string>>;
    /**
     * Keys Pulumi marks secret besides those holding an encrypted value: a key a Pulumi ESC
     * environment fills with a secret, which the stack file does not hold. @default none
     */
    readonly secretKeys?: readonly string[];
    /** Run as a preview (`pulumi preview`) rather than an update. @default false */
    readonly preview?: boolean;
    /**
     * Extra output state of a mocked resource, merged over its inputs, for outputs the provider
     * computes (an address, an ID). herd's own resource types get plausible defaults.
     * @default the inputs, plus an address for OpenStack instances and load balancers
     */
    readonly state?: (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown> | undefined;
    /**
     * ID of a mocked custom resource, e.g. a UUID for an OpenStack network whose `id` a fleet is
     * wired to. @default `${name}-${a hash of its type and name}`; also when this gives `undefined`
     */
    readonly id?: (args: pulumi.runtime.MockResourceArgs) => string | undefined;
    /** Answer to a provider function call (a data source). @default its inputs plus a deterministic `id` */
    readonly call?: (args: pulumi.runtime.MockCallArgs) => Record<string, unknown> | undefined;
}

/**
 * What a program registered and exported, under mocks.
 *
 * @group Testing
 */
export class ProgramRun {
    constructor(
        /** Every registered resource, sorted by URN. */
        readonly resources: readonly RecordedResource[],
        /** The program's exports (stack outputs), with every Output resolved. */
        readonly outputs: Record<string, unknown>,
    ) {}

    /** Resources of one type token, in URN order. */
    ofType(type: string): RecordedResource[] {
        return this.resources.filter((r) => r.type === type);
    }

    /** The one resource with this name (and type, when given); throws when there is none or several. */
    named(name: string, type?: string): RecordedResource {
        const found = this.resources.filter((r) => r.name === name && (type === undefined || r.type === type));
        if (found.length !== 1) {
            throw new Error(`expected one resource named "${name}"${type ? ` of type ${type}` : ""}, found ${found.length}`);
        }
        return found[0];
    }

    /** Direct children of a resource. */
    childrenOf(parent: RecordedResource): RecordedResource[] {
        return this.resources.filter((r) => r.options.parent === parent.urn);
    }

    /**
     * Where a text (a secret's plaintext, say) appears in plain sight: in a URN, a name, an
     * option, an input outside a secret, or a stack output. Empty when it appears nowhere, or
     * only inside inputs the engine receives as secrets.
     */
    plainText(text: string): string[] {
        return [
            ...this.resources.flatMap((r) => [
                ...(r.urn.includes(text) ? [`${r.urn}: urn`] : []),
                ...plainTextPaths(r.inputs, text).map((at) => `${r.urn}: inputs${at}`),
                ...plainTextPaths(r.options, text).map((at) => `${r.urn}: options${at}`),
            ]),
            ...plainTextPaths(this.outputs, text).map((at) => `outputs${at}`),
        ];
    }
}

/**
 * A program that failed under mocks, with what it had registered before it failed.
 *
 * @group Testing
 */
export class ProgramError extends Error {
    constructor(
        cause: unknown,
        /** Resources registered before the failure. */
        readonly resources: readonly RecordedResource[],
    ) {
        super(cause instanceof Error ? cause.message : String(cause), { cause });
        this.name = "ProgramError";
    }
}

/**
 * Runtime hooks the SDK marks internal (left out of its typings) but which a recorder needs: the
 * mock monitor's feature probe and the wait for outstanding registrations.
 */
const state = require("@pulumi/pulumi/runtime/state") as { getStore(): { settings: { options: { rootDirectory?: string } } } };
const settings = require("@pulumi/pulumi/runtime/settings") as {
    setMockOptions(monitor: unknown, project?: string, stack?: string, preview?: boolean): void;
    awaitFeatureSupport(): Promise<void>;
    waitForRPCs(): Promise<void>;
};

function deterministicId(...parts: string[]): string {
    return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 12);
}

/** What the cloud would compute for the resource (a server's address), as its backend says (`FleetBackend.mockState`). */
function defaultState(args: pulumi.runtime.MockResourceArgs): Readonly<Record<string, unknown>> {
    for (const backend of Object.values(FLEET_BACKENDS) as { mockState?(type: string, name: string): Readonly<Record<string, unknown>> | undefined }[]) {
        const state = backend.mockState?.(args.type, args.name);
        if (state !== undefined) {
            return state;
        }
    }
    return {};
}

function projectName(projectDir: string): string {
    try {
        const doc = YAML.parse(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as { name?: unknown };
        return typeof doc?.name === "string" ? doc.name : "project";
    } catch {
        return "project";
    }
}

/** A config value as `pulumi up` gives it to a program: each encrypted value with a known plaintext decrypted. */
function decrypted(value: unknown, secrets: Readonly<Record<string, string>>): unknown {
    if (isSecureValue(value)) {
        return Object.hasOwn(secrets, value.secure) ? secrets[value.secure] : value;
    }
    if (Array.isArray(value)) {
        return value.map((item) => decrypted(item, secrets));
    }
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, decrypted(item, secrets)]));
    }
    return value;
}


/** Config in the form the runtime keeps it: strings, objects as JSON. */
function runtimeConfig(config: StackConfig): Record<string, string> {
    return Object.fromEntries(
        Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
    );
}

/** Waits for every Output inside a value and returns the plain value. */
async function resolveDeep(value: unknown): Promise<unknown> {
    return new Promise((resolve) => {
        const output: pulumi.Output<unknown> = pulumi.output(value as pulumi.Input<Record<string, unknown>>);
        output.apply((plain) => {
            resolve(plain);
            return plain;
        });
    });
}

function loadProgram(program: string | (() => unknown)): unknown {
    if (typeof program === "function") {
        return program();
    }
    const file = require.resolve(path.resolve(program));
    delete require.cache[file];
    const exported = require(file);
    const entry = typeof exported === "function" ? exported : typeof exported?.default === "function" ? exported.default : undefined;
    if (entry) {
        return entry();
    }
    const { __esModule, ...outputs } = exported ?? {};
    void __esModule;
    return outputs;
}

/**
 * Runs a Pulumi program under mocks and records every resource it registers, with its options.
 * Config is set before the program is loaded; the program module is loaded afresh each call, so
 * one test process can run many stacks. Resolves once every registration has finished.
 *
 * @throws ProgramError when the program throws, carrying what it registered before failing
 *
 * @group Testing
 */
export async function runProgram(options: RunOptions): Promise<ProgramRun> {
    const projectDir =
        options.projectDir ?? (typeof options.program === "string" ? path.dirname(path.resolve(options.program)) : process.cwd());
    const stack = options.stack ?? "test";
    let config = options.config;
    if (config === undefined) {
        config = fs.existsSync(path.join(projectDir, `Pulumi.${stack}.yaml`)) ? readStackConfig(projectDir, stack) : {};
    }
    const stored = config;
    const secretKeys = [...new Set([...Object.keys(stored).filter((key) => holdsSecureValue(stored[key])), ...(options.secretKeys ?? [])])];
    pulumi.runtime.setAllConfig(runtimeConfig(decrypted(stored, options.secrets ?? {}) as StackConfig), secretKeys);

    const monitor = new RecordingMonitor({
        newResource: (args) => ({
            id: args.custom ? options.id?.(args) ?? `${args.name}-${deterministicId(args.type, args.name)}` : undefined,
            state: { ...args.inputs, ...defaultState(args), ...options.state?.(args) },
        }),
        call: (args) => options.call?.(args) ?? { ...args.inputs, id: deterministicId(args.token, JSON.stringify(args.inputs)) },
    });
    settings.setMockOptions(monitor, options.project ?? projectName(projectDir), stack, options.preview ?? false);
    // What the engine gives a program it runs: its project root (the Pulumi SDK keeps it in its state).
    state.getStore().settings.options.rootDirectory = path.resolve(projectDir);
    await settings.awaitFeatureSupport();

    let outputs: Record<string, unknown>;
    // The stored config tells the program which values are secret (see `storedStackConfig`).
    const savedStored = process.env[STORED_CONFIG_VARIABLE];
    process.env[STORED_CONFIG_VARIABLE] = JSON.stringify(stored);
    try {
        const result = await loadProgram(options.program);
        outputs = ((options.preview ? result : await resolveDeep(result)) ?? {}) as Record<string, unknown>;
        await settings.waitForRPCs();
    } catch (err) {
        await settings.waitForRPCs().catch(() => undefined);
        throw new ProgramError(err, sortByUrn(monitor.recorded));
    } finally {
        if (savedStored === undefined) {
            delete process.env[STORED_CONFIG_VARIABLE];
        } else {
            process.env[STORED_CONFIG_VARIABLE] = savedStored;
        }
    }
    return new ProgramRun(sortByUrn(monitor.recorded), outputs);
}

function sortByUrn(resources: readonly RecordedResource[]): RecordedResource[] {
    return [...resources].sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
}
