import * as YAML from "yaml";
import { probeCloudConfig, ProbeSpec } from "../monitoring/probe";

/** The Debian/Ubuntu package that herd installs on every member to expose host metrics on :9100. */
export const NODE_EXPORTER_PACKAGE = "prometheus-node-exporter";
/** Where node_exporter's textfile collector reads `*.prom` files on Debian/Ubuntu. */
export const TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";

const HEADER = "#cloud-config";

type CloudConfig = Record<string, unknown>;

/**
 * Parses a user's `#cloud-config` file. Throws an Error that says what is wrong; the caller adds
 * which file and key it came from.
 */
export function parseCloudConfig(source: string): CloudConfig {
    const firstLine = source.split("\n", 1)[0].trim();
    if (firstLine !== HEADER) {
        throw new Error(`must start with a "${HEADER}" line, found ${JSON.stringify(firstLine)}`);
    }
    const doc = YAML.parseDocument(source, { uniqueKeys: true });
    if (doc.errors.length > 0) {
        throw new Error(`is not valid YAML: ${doc.errors[0].message}`);
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
