import { type ConfigBackend, missingPushgateway, type ResolveOptions, type ResolvedConfig, secretsOf } from "../config/backend";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ConfigProblem } from "../config/errors";
import { projectPath } from "../config/files";
import { FLEETS_KEY, isContainerSecretPlace } from "../config/validate";
import { canonicalHealthCheck } from "../core/health";
import { cronScheduleProblem, type ProbeSpec } from "../monitoring/probe";
import { containerGeneration, containerReleaseFromConfig } from "../release/container";
import { KubernetesVolume, podSettingsProblems } from "./pod";
import { type KubernetesFleetConfig, kubernetesFleetSchema, type KubernetesSettings, kubernetesSettingsSchema } from "./schema";
import type { PlainNamespaceWorkloadArgs } from "./workload";

/**
 * The problems of a Kubernetes fleet's pod settings that the config schema cannot see (names,
 * quantities and mount paths in Kubernetes's grammar, one source per volume, a mount path no
 * release file or other volume takes, requests within limits), with their full key paths: the
 * checks `KubernetesWorkload` makes of the same settings given in code.
 */
export function kubernetesConfigProblems(name: string, fleet: KubernetesFleetConfig): ConfigProblem[] {
    const filePaths = [fleet.release, fleet.rollout?.previous].flatMap((release) => Object.keys(release?.files ?? {}));
    return podSettingsProblems(kubernetesArgsFromConfig(name, fleet), { filePaths, metrics: true }).map((problem) => ({
        ...problem,
        path: [FLEETS_KEY, name, ...problem.path],
    }));
}

/**
 * The arguments of a {@link KubernetesWorkload} for a fleet of the stack config
 * (`herd:fleets.<name>`, `backend: kubernetes`), already validated by the config schema.
 * Settings the config does not have (security, metrics, fixed names) keep their defaults. `rollout.waves` is the promotion schedule, which the CLI reads; the workload only
 * needs `members`.
 *
 * @param name the fleet's name, which becomes the component's name; it is not part of the args
 * but says which fleet a failure is about
 */
export function kubernetesArgsFromConfig(name: string, fleet: KubernetesFleetConfig): PlainNamespaceWorkloadArgs {
    if (fleet.backend !== "kubernetes") {
        throw new Error(`fleet "${name}": expected a kubernetes fleet, got backend ${JSON.stringify(fleet.backend)}`);
    }
    const previous = fleet.rollout?.previous && containerReleaseFromConfig(fleet.rollout.previous);
    return {
        size: fleet.size,
        release: containerReleaseFromConfig(fleet.release),
        ...(fleet.rollout ? { rollout: { members: fleet.rollout.members, ...(previous ? { previous } : {}) } } : {}),
        ...(fleet.namespace === undefined ? {} : { namespace: fleet.namespace }),
        ...(fleet.update ? { update: { ...fleet.update } } : {}),
        ...(fleet.spread === undefined ? {} : { spread: fleet.spread }),
        ...(fleet.nodeSelector === undefined ? {} : { nodeSelector: { ...fleet.nodeSelector } }),
        ...(fleet.tolerations === undefined ? {} : { tolerations: fleet.tolerations.map((t) => ({ ...t })) }),
        ...(fleet.health ? { health: canonicalHealthCheck(fleet.health) } : {}),
        ...(fleet.serviceAccountName === undefined ? {} : { serviceAccountName: fleet.serviceAccountName }),
        ...(fleet.automountServiceAccountToken === undefined ? {} : { automountServiceAccountToken: fleet.automountServiceAccountToken }),
        ...(fleet.imagePullSecrets === undefined ? {} : { imagePullSecrets: [...fleet.imagePullSecrets] }),
        ...(fleet.volumes === undefined ? {} : { volumes: Object.fromEntries(Object.entries(fleet.volumes).map(([volume, v]) => [volume, { ...v } as KubernetesVolume])) }),
        ...(fleet.podAnnotations === undefined ? {} : { podAnnotations: { ...fleet.podAnnotations } }),
        ...(fleet.resources === undefined ? {} : { resources: { ...fleet.resources } }),
    };
}

/**
 * The problems of a Kubernetes fleet's probes the schema cannot see: each runs as a CronJob, whose
 * schedule must divide the hour or the day, and pushes to the stack's Pushgateway.
 */
function probeProblems(name: string, fleet: KubernetesFleetConfig, options: ResolveOptions): ConfigProblem[] {
    const probes = Object.entries(fleet.probes ?? {});
    const problems = missingPushgateway(name, "kubernetes", probes.map(([probe]) => probe), options);
    for (const [probe, config] of probes) {
        const schedule = cronScheduleProblem(config.every);
        if (schedule !== undefined) {
            problems.push({ path: [FLEETS_KEY, name, "probes", probe, "every"], value: config.every, allowed: schedule });
        }
    }
    return problems;
}

/**
 * Problems of the paths in `herd:kubernetes`: each must stay inside the project. They may not
 * exist yet (a kubeconfig a local cluster writes, a directory manifests are rendered to): what
 * exists of them must lead, after symlinks, inside the project, and be of the right kind.
 */
function kubernetesPathProblems(settings: KubernetesSettings, projectDir: string): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const check = (key: "kubeconfig" | "renderYamlToDirectory", relative: string, kind: "file" | "directory", what: string) => {
        let existing = relative;
        while (existing !== "." && !fs.existsSync(path.resolve(projectDir, existing))) {
            existing = path.dirname(existing);
        }
        const found = projectPath(projectDir, existing, existing === relative ? kind : "directory");
        if ("problem" in found) {
            problems.push({ path: ["herd:kubernetes", key], value: relative, allowed: `${what} relative to the project directory (${found.problem})` });
        }
    };
    if (settings.kubeconfig !== undefined) {
        check("kubeconfig", settings.kubeconfig, "file", "a kubeconfig file");
    }
    if (settings.renderYamlToDirectory !== undefined) {
        check("renderYamlToDirectory", settings.renderYamlToDirectory, "directory", "a directory");
    }
    return problems;
}

/** The Kubernetes backend's part of validating and resolving a stack config. */
export const kubernetesConfigBackend: ConfigBackend<KubernetesFleetConfig, PlainNamespaceWorkloadArgs, KubernetesSettings> = {
    schema: kubernetesFleetSchema,
    secretPlace: isContainerSecretPlace,
    settings: { schema: kubernetesSettingsSchema, problems: kubernetesPathProblems },
    resolve(name: string, fleet: KubernetesFleetConfig, _probes: readonly ProbeSpec[], options: ResolveOptions): ResolvedConfig<PlainNamespaceWorkloadArgs> {
        const probes = probeProblems(name, fleet, options);
        const problems = kubernetesConfigProblems(name, fleet);
        return problems.length > 0
            ? { problems: [...probes, ...problems] }
            : { args: { ...kubernetesArgsFromConfig(name, fleet), ...secretsOf(options) }, problems: probes };
    },
    releaseGeneration: (_name: string, args: PlainNamespaceWorkloadArgs) => containerGeneration(args.release),
};
