import type { z } from "zod";
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
        .regex(
            /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
            expect("a label key such as example.org/pool (name at most 63 characters)"),
        ),
);
const labelValue = lazy(() =>
    zod
        .string(expect("a label value (quote numbers and booleans)"))
        .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, expect("a label value: at most 63 letters, digits, '-', '_' or '.'")),
);

const toleration = lazy(() =>
    strict({
        key: labelKey.optional(),
        operator: zod.enum(["Equal", "Exists"], expect("Equal | Exists")).optional(),
        value: labelValue.optional(),
        effect: zod.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"], expect("NoSchedule | PreferNoSchedule | NoExecute")).optional(),
        tolerationSeconds: wholeNumber(0).optional(),
    }),
);

/** A resource quantity: YAML may give a number (`cpu: 1`), which Kubernetes takes as its text. */
const quantity = (allowed: string) => zod.union([zod.string(), zod.number()], expect(allowed)).transform(String);

const resourceQuantities = lazy(() =>
    strict({ cpu: quantity(CPU_ALLOWED).optional(), memory: quantity(MEMORY_ALLOWED).optional() }),
);

/**
 * An extra volume of a Kubernetes fleet. Its values' grammar and the rules between them (one
 * source, a free mount path) are checked by the Kubernetes backend, for code and config alike.
 */
const kubernetesVolume = lazy(() =>
    strict({
        mountPath: zod.string(expect(MOUNT_PATH_ALLOWED)),
        readOnly: zod.boolean(expect("true | false")).optional(),
        emptyDir: strict({ medium: zod.string(expect(MEDIUM_ALLOWED)).optional(), sizeLimit: quantity(SIZE_ALLOWED).optional() }).optional(),
        secret: zod.string(expect(objectNameAllowed("Secret"))).optional(),
        configMap: zod.string(expect(objectNameAllowed("ConfigMap"))).optional(),
        persistentVolumeClaim: zod.string(expect(objectNameAllowed("PersistentVolumeClaim"))).optional(),
    }),
);

/** A Kubernetes fleet in the stack config (`backend: kubernetes`): what its `config.ts` turns into `KubernetesWorkloadArgs`. */
export const kubernetesFleetSchema = lazy(() =>
    fleetSchemaOf("kubernetes", KUBERNETES_MAX_SIZE, {
        namespace: zod.string(expect("a Kubernetes namespace name")).regex(FLEET_NAME, expect("a Kubernetes namespace name")).optional(),
        nodeSelector: zod.record(labelKey, labelValue, expect("a map of node label → value")).optional(),
        tolerations: zod.array(toleration, expect("a list of { key, operator, value, effect, tolerationSeconds }")).optional(),
        serviceAccountName: zod.string(expect(objectNameAllowed("ServiceAccount"))).optional(),
        automountServiceAccountToken: zod.boolean(expect("true | false: whether the pods get the service account's API token")).optional(),
        imagePullSecrets: zod.array(zod.string(expect(objectNameAllowed("Secret"))), expect("a list of Secret names")).optional(),
        volumes: zod.record(zod.string(), kubernetesVolume, expect("a map of volume name → { mountPath, readOnly?, and one of emptyDir, secret, configMap, persistentVolumeClaim }")).optional(),
        podAnnotations: zod.record(zod.string(), zod.string(expect("a string value (quote numbers and booleans)")), expect("a map of annotation key: value")).optional(),
        resources: strict({ requests: resourceQuantities.optional(), limits: resourceQuantities.optional() }).optional(),
        release: containerReleaseSchema,
        rollout: rolloutSchemaOf(containerReleaseSchema).optional(),
    }),
);

/**
 * `herd:kubernetes`: how the program reaches the cluster. Without it, the ambient kubeconfig
 * (`KUBECONFIG`, current context) is used.
 */
export const kubernetesSettingsSchema = lazy(() =>
    strict({
        kubeconfig: projectFilePath("a kubeconfig file").optional(),
        context: text("a kubeconfig context name").optional(),
        namespace: zod.string(expect("a Kubernetes namespace name")).regex(FLEET_NAME, expect("a Kubernetes namespace name")).optional(),
        renderYamlToDirectory: projectFilePath("a directory to write manifests to instead of applying them to a cluster").optional(),
        createNamespaces: zod.boolean(expect("true (herd creates the namespaces its fleets name) or false (they exist already)")).optional(),
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
