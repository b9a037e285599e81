import { YAML } from "../config/lazy";
import { Recent } from "../core/recent";
import { probeCloudConfig, ProbeSpec } from "../monitoring/probe";

/** The Debian/Ubuntu package that herd installs on every member to expose host metrics on :9100. */
export const NODE_EXPORTER_PACKAGE = "prometheus-node-exporter";
/** Where node_exporter's textfile collector reads `*.prom` files on Debian/Ubuntu. */
export const TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";

const HEADER = "#cloud-config";

/**
 * The most user data Nova takes: 65,535 bytes once base64-encoded (the API carries it encoded),
 * so 49,149 bytes of cloud-config text, herd's additions (node_exporter, probes, the release
 * identity) included.
 */
export const USER_DATA_MAX_ENCODED_BYTES = 65535;

/** Size of user data as Nova receives it: base64 of its UTF-8 bytes. */
export function encodedUserDataSize(userData: string): number {
    return 4 * Math.ceil(Buffer.byteLength(userData, "utf8") / 3);
}

/** Files herd writes on every member; a user's `write_files` entry for one of them would fight herd's. */
export const HERD_FILES = ["/etc/herd/release.json", `${TEXTFILE_DIR}/herd_release.prom`] as const;

const isCommand = (entry: unknown) =>
    typeof entry === "string" || (Array.isArray(entry) && entry.length > 0 && entry.every((arg) => typeof arg === "string"));

/**
 * What cloud-init would refuse or misread in the keys herd adds to, and in the common ones it
 * does not touch: one line per problem, naming the key. Checked before anything is created (the
 * tests run the same documents through `cloud-init schema`).
 */
export function cloudConfigProblems(config: CloudConfig): string[] {
    const problems: string[] = [];
    const list = (key: string, item: (entry: unknown, i: number) => string | undefined) => {
        const value = config[key];
        if (value === undefined) {
            return;
        }
        if (!Array.isArray(value)) {
            problems.push(`"${key}" must be a list`);
            return;
        }
        value.forEach((entry, i) => {
            const problem = item(entry, i);
            if (problem !== undefined) {
                problems.push(`"${key}"[${i}] ${problem}`);
            }
        });
    };
    list("packages", (entry) =>
        typeof entry === "string" || (Array.isArray(entry) && entry.length === 2 && entry.every((part) => typeof part === "string"))
            ? undefined
            : "must be a package name or [name, version]",
    );
    for (const key of ["runcmd", "bootcmd"]) {
        list(key, (entry) => (isCommand(entry) ? undefined : "must be a command: a string, or a list of strings"));
    }
    list("write_files", (entry) => {
        if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
            return "must be a mapping with a path";
        }
        const file = entry as Record<string, unknown>;
        if (typeof file.path !== "string" || !file.path.startsWith("/")) {
            return "must have an absolute path";
        }
        if ((HERD_FILES as readonly string[]).includes(file.path) || file.path.startsWith("/usr/local/lib/herd/") || /^\/etc\/systemd\/system\/herd-probe-/.test(file.path)) {
            return `writes ${file.path}, which herd writes itself`;
        }
        if (file.content !== undefined && typeof file.content !== "string") {
            return "must have a string content";
        }
        if (file.permissions !== undefined && !(typeof file.permissions === "string" && /^0?[0-7]{3,4}$/.test(file.permissions))) {
            return "must have permissions as an octal string such as '0644'";
        }
        return undefined;
    });
    for (const key of ["package_update", "package_upgrade", "package_reboot_if_required"]) {
        if (config[key] !== undefined && typeof config[key] !== "boolean") {
            problems.push(`"${key}" must be true or false`);
        }
    }
    list("ssh_authorized_keys", (entry) => (typeof entry === "string" ? undefined : "must be a public key string"));
    return problems;
}

type CloudConfig = Record<string, unknown>;

/**
 * Parses a user's `#cloud-config` file. Throws an Error that says what is wrong; the caller adds
 * which file and key it came from.
 */
export function parseCloudConfig(source: string): CloudConfig {
    return parsed.get(source, () => deepFreeze(parseAnew(source)));
}

/**
 * Documents parsed lately, by their text: the stack config checks a release's file, then renders
 * the release from the same text. Frozen, since every caller gets the same value; a document that
 * fails to parse is not kept.
 */
const parsed = new Recent<string, CloudConfig>(32);

function deepFreeze<T>(value: T): T {
    if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
        for (const item of Object.values(value)) {
            deepFreeze(item);
        }
        Object.freeze(value);
    }
    return value;
}

function parseAnew(source: string): CloudConfig {
    // Messages say where, never what: the file may hold anything, a secret included.
    const firstLine = source.split("\n", 1)[0].trim();
    if (firstLine !== HEADER) {
        throw new Error(`must start with a "${HEADER}" line; its first line is something else (${firstLine.length} characters)`);
    }
    const lineCounter = new YAML.LineCounter();
    const doc = YAML.parseDocument(source, { uniqueKeys: true, prettyErrors: false, lineCounter });
    if (doc.errors.length > 0) {
        const error = doc.errors[0];
        const { line, col } = lineCounter.linePos(error.pos[0]);
        throw new Error(`is not valid YAML: ${error.code} at line ${line}, column ${col}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) {
        return {};
    }
    if (typeof value !== "object" || Array.isArray(value)) {
        throw new Error("must be a YAML mapping of cloud-init modules");
    }
    return value as CloudConfig;
}

function listAt(config: CloudConfig, key: string): unknown[] {
    const value = config[key];
    if (value === undefined) {
        return [];
    }
    if (!Array.isArray(value)) {
        throw new Error(`"${key}" must be a list to add herd's entries to it`);
    }
    return value;
}

/**
 * Adds what every member gets from herd to a user's cloud-config, without mutating it: the
 * node_exporter package and its service enabled, and each probe as a systemd timer that writes
 * its metric for node_exporter's textfile collector. The result is the same bytes for the same
 * input, so it can be hashed into the generation.
 */
export function withHerdDefaults(config: CloudConfig, probes: readonly ProbeSpec[] = []): CloudConfig {
    const packages = listAt(config, "packages");
    const probeFiles = probeCloudConfig(probes, TEXTFILE_DIR);
    return {
        ...config,
        packages: packages.includes(NODE_EXPORTER_PACKAGE) ? packages : [...packages, NODE_EXPORTER_PACKAGE],
        ...(probeFiles.writeFiles.length > 0 ? { write_files: [...listAt(config, "write_files"), ...probeFiles.writeFiles] } : {}),
        runcmd: [...listAt(config, "runcmd"), ["systemctl", "enable", "--now", NODE_EXPORTER_PACKAGE], ...probeFiles.runcmd],
    };
}

/**
 * Adds the member's release identity: `/etc/herd/release.json` and a node_exporter textfile
 * metric `herd_release_info{fleet,generation} 1`, so the host and its metrics say which release it
 * runs. The slot is in the server name (and so the hostname) and in the Nova metadata.
 */
export function withReleaseIdentity(config: CloudConfig, fleet: string, generation: string): CloudConfig {
    return {
        ...config,
        write_files: [
            ...listAt(config, "write_files"),
            {
                path: "/etc/herd/release.json",
                permissions: "0644",
                content: `${JSON.stringify({ fleet, generation })}\n`,
            },
            {
                path: `${TEXTFILE_DIR}/herd_release.prom`,
                permissions: "0644",
                content: `herd_release_info{fleet="${fleet}",generation="${generation}"} 1\n`,
            },
        ],
    };
}

/** Serialises a cloud-config to user data. Key order is the input's; no line folding. */
export function toUserData(config: CloudConfig): string {
    return `${HEADER}\n${YAML.stringify(config, { lineWidth: 0 })}`;
}

/**
 * What herd plans for user data known only at deploy time: herd's additions, under a comment
 * naming the document that takes their place once it resolves (a placeholder such as
 * `userData: an input known at deploy time`). The generation is hashed from it, so it is the same
 * on every run whatever the document is, and changes with herd's additions (probes).
 */
export function deployTimeUserData(additions: CloudConfig, placeholder: string): string {
    return `${HEADER}\n# ${placeholder}\n${YAML.stringify(additions, { lineWidth: 0 })}`;
}
