import type { z } from "zod/mini";
import { lazy } from "../config/lazy";
import { containerReleaseSchema, expect, FLEET_NAME, fleetSchemaOf, projectFilePath, rolloutSchemaOf, strict, text, wholeNumber, zod } from "../config/schema";
import { CPU_ALLOWED, MEDIUM_ALLOWED, MEMORY_ALLOWED, MOUNT_PATH_ALLOWED, objectNameAllowed, SIZE_ALLOWED } from "./grammar";

/**
 * What a Kubernetes fleet is in the stack config (`backend: kubernetes` under `herd:fleets`) and
 * how `herd:kubernetes` reaches the cluster: the schemas the fleet registry validates them with.
 */

/**
 * The most members one Kubernetes fleet may have: 10000. The members are replicas of one or two
 * Deployments, which stay two resources; Kubernetes is tested up to 150,000 pods per cluster, and
 * one fleet of 10,000 is already a large share of it.
 */
export const KUBERNETES_MAX_SIZE = 10000;

const labelKey = lazy(() =>
    zod
        .string(expect("a label key such as example.org/pool"))
        .check(
            zod.regex(
                /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
                expect("a label key such as example.org/pool (name at most 63 characters)"),
            ),
        ),
);
const labelValue = lazy(() =>
    zod
        .string(expect("a label value (quote numbers and booleans)"))
        .check(zod.regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, expect("a label value: at most 63 letters, digits, '-', '_' or '.'"))),
);

const toleration = lazy(() =>
    strict({
        key: zod.optional(labelKey),
        operator: zod.optional(zod.enum(["Equal", "Exists"], expect("Equal | Exists"))),
        value: zod.optional(labelValue),
        effect: zod.optional(zod.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"], expect("NoSchedule | PreferNoSchedule | NoExecute"))),
        tolerationSeconds: zod.optional(wholeNumber(0)),
    }),
);

/** A resource quantity: YAML may give a number (`cpu: 1`), which Kubernetes takes as its text. */
const quantity = (allowed: string) => zod.pipe(zod.union([zod.string(), zod.number()], expect(allowed)), zod.transform(String));

const resourceQuantities = lazy(() =>
    strict({ cpu: zod.optional(quantity(CPU_ALLOWED)), memory: zod.optional(quantity(MEMORY_ALLOWED)) }),
);

/**
 * An extra volume of a Kubernetes fleet. Its values' grammar and the rules between them (one
 * source, a free mount path) are checked by the Kubernetes backend, for code and config alike.
 */
const kubernetesVolume = lazy(() =>
    strict({
        mountPath: zod.string(expect(MOUNT_PATH_ALLOWED)),
        readOnly: zod.optional(zod.boolean(expect("true | false"))),
        emptyDir: zod.optional(strict({ medium: zod.optional(zod.string(expect(MEDIUM_ALLOWED))), sizeLimit: zod.optional(quantity(SIZE_ALLOWED)) })),
        secret: zod.optional(zod.string(expect(objectNameAllowed("Secret")))),
        configMap: zod.optional(zod.string(expect(objectNameAllowed("ConfigMap")))),
        persistentVolumeClaim: zod.optional(zod.string(expect(objectNameAllowed("PersistentVolumeClaim")))),
    }),
);

/** A Kubernetes fleet in the stack config (`backend: kubernetes`): what its `config.ts` turns into `KubernetesWorkloadArgs`. */
export const kubernetesFleetSchema = lazy(() =>
    fleetSchemaOf("kubernetes", KUBERNETES_MAX_SIZE, {
        namespace: zod.optional(zod.string(expect("a Kubernetes namespace name")).check(zod.regex(FLEET_NAME, expect("a Kubernetes namespace name")))),
        nodeSelector: zod.optional(zod.record(labelKey, labelValue, expect("a map of node label → value"))),
        tolerations: zod.optional(zod.array(toleration, expect("a list of { key, operator, value, effect, tolerationSeconds }"))),
        serviceAccountName: zod.optional(zod.string(expect(objectNameAllowed("ServiceAccount")))),
        automountServiceAccountToken: zod.optional(zod.boolean(expect("true | false: whether the pods get the service account's API token"))),
        imagePullSecrets: zod.optional(zod.array(zod.string(expect(objectNameAllowed("Secret"))), expect("a list of Secret names"))),
        volumes: zod.optional(
            zod.record(
                zod.string(),
                kubernetesVolume,
                expect("a map of volume name → { mountPath, readOnly?, and one of emptyDir, secret, configMap, persistentVolumeClaim }"),
            ),
        ),
        podAnnotations: zod.optional(
            zod.record(zod.string(), zod.string(expect("a string value (quote numbers and booleans)")), expect("a map of annotation key: value")),
        ),
        resources: zod.optional(strict({ requests: zod.optional(resourceQuantities), limits: zod.optional(resourceQuantities) })),
        release: containerReleaseSchema,
        rollout: zod.optional(rolloutSchemaOf(containerReleaseSchema)),
    }),
);

/**
 * `herd:kubernetes`: how the program reaches the cluster. Without it, the ambient kubeconfig
 * (`KUBECONFIG`, current context) is used.
 */
export const kubernetesSettingsSchema = lazy(() =>
    strict({
        kubeconfig: zod.optional(projectFilePath("a kubeconfig file")),
        context: zod.optional(text("a kubeconfig context name")),
        namespace: zod.optional(zod.string(expect("a Kubernetes namespace name")).check(zod.regex(FLEET_NAME, expect("a Kubernetes namespace name")))),
        renderYamlToDirectory: zod.optional(projectFilePath("a directory to write manifests to instead of applying them to a cluster")),
        createNamespaces: zod.optional(zod.boolean(expect("true (herd creates the namespaces its fleets name) or false (they exist already)"))),
    }),
);

/**
 * `herd:kubernetes` as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type KubernetesSettings = z.infer<typeof kubernetesSettingsSchema>;

/**
 * A Kubernetes fleet as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type KubernetesFleetConfig = z.infer<typeof kubernetesFleetSchema>;
