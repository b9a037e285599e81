import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../components/config";
import { dockerFleetSchema } from "../components/docker/schema";
import { parseFleets } from "../components/fleet";
import { type KubernetesFleetConfig, kubernetesFleetSchema } from "../components/kubernetes/schema";
import { openstackFleetSchema } from "../components/openstack/schema";
import { resolveFleets, resolveStack } from "../components/fleet";
import {
    buildDeploymentSpec,
    KubernetesWorkload,
    KubernetesWorkloadArgs,
    kubernetesArgsFromConfig,
    resolveWorkload,
} from "../components/kubernetes";
import { quantityValue } from "../components/kubernetes/grammar";
import { secretMarker } from "../components/release";
import { isSecret, ProgramError, runProgram } from "../components/testing";
import { PROJECT_DIR, rejectionOf, runStack, stackConfig } from "./helpers/project";

/**
 * The pod settings of a Kubernetes fleet: service account, image pull secrets, extra volumes
 * (Secret, ConfigMap, emptyDir, PersistentVolumeClaim), pod annotations, requests and limits —
 * in the stack config and from code, checked with the same words, validated against the
 * Kubernetes schema.
 */

const IMAGE = "registry.example.org/api@sha256:" + "a".repeat(64);
const RELEASE = { image: IMAGE, port: 8080, files: { "/etc/api/api.yaml": "level: info\n" } };
const base = { backend: "kubernetes", size: 3, release: RELEASE };

/** Every pod setting, as a stack file gives them. */
const SETTINGS = {
    serviceAccountName: "api-reader",
    automountServiceAccountToken: true,
    imagePullSecrets: ["registry-example-org"],
    volumes: {
        tls: { secret: "api-tls", mountPath: "/etc/api/tls" },
        settings: { configMap: "api-settings", mountPath: "/etc/api/settings" },
        cache: { emptyDir: { medium: "Memory", sizeLimit: "64Mi" }, mountPath: "/var/cache/api" },
        shared: { persistentVolumeClaim: "api-shared", mountPath: "/srv/shared" },
        scratch: { emptyDir: {}, mountPath: "/var/scratch", readOnly: false },
    },
    podAnnotations: { "example.org/team": "payments", "sidecar.istio.io/inject": "false" },
    resources: { requests: { cpu: 0.25, memory: "256Mi" }, limits: { cpu: 1, memory: "512Mi" } },
};

interface Model {
    validate(): void;
}
let Deployment: new (data: unknown) => Model;
before(async () => {
    ({ Deployment } = (await import("kubernetes-models/apps/v1/Deployment")) as unknown as { Deployment: new (data: unknown) => Model });
});

function deployment(spec: unknown): void {
    new Deployment({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "api-stable", namespace: "default" }, spec }).validate();
}

/** The args of fleet `api` of a stack config, as the program gets them. */
function argsOf(fleet: object): KubernetesWorkloadArgs {
    return kubernetesArgsFromConfig("api", parseFleets({ api: fleet }, "prod").api as KubernetesFleetConfig);
}

/** The problem lines of a stack config whose only fleet is `api`. */
function configLines(fleet: object): string[] {
    try {
        resolveFleets({ api: fleet }, { stack: "prod", projectDir: PROJECT_DIR });
    } catch (err) {
        expect(err, String(err)).to.be.instanceOf(ConfigError);
        return (err as Error).message.split("\n").slice(1);
    }
    return [];
}

/** The problem lines `KubernetesWorkload` refuses its arguments with. */
function codeLines(args: KubernetesWorkloadArgs): string[] {
    try {
        resolveWorkload("api", args);
    } catch (err) {
        expect(pulumi.RunError.isInstance(err), String(err)).to.equal(true);
        return (err as Error).message.split("\n").slice(1);
    }
    return [];
}

describe("kubernetes pod settings: what the pods get", () => {
    const args = argsOf({ ...base, ...SETTINGS });
    const w = resolveWorkload("api", args);
    const spec = buildDeploymentSpec(w, w.roles[0], { files: "cm-files" });
    const pod = spec.template.spec;

    it("runs as the service account, with its token, and pulls with the given secrets", () => {
        expect(pod).to.deep.include({
            serviceAccountName: "api-reader",
            automountServiceAccountToken: true,
            imagePullSecrets: [{ name: "registry-example-org" }],
        });
    });

    it("mounts each volume after herd's own, sorted by name; Secrets and ConfigMaps read-only unless told otherwise", () => {
        expect(pod.volumes.slice(2)).to.deep.equal([
            { name: "cache", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
            { name: "scratch", emptyDir: {} },
            { name: "settings", configMap: { name: "api-settings" } },
            { name: "shared", persistentVolumeClaim: { claimName: "api-shared" } },
            { name: "tls", secret: { secretName: "api-tls" } },
        ]);
        expect(pod.containers[0].volumeMounts.slice(2)).to.deep.equal([
            { name: "cache", mountPath: "/var/cache/api", readOnly: false },
            { name: "scratch", mountPath: "/var/scratch", readOnly: false },
            { name: "settings", mountPath: "/etc/api/settings", readOnly: true },
            { name: "shared", mountPath: "/srv/shared", readOnly: false },
            { name: "tls", mountPath: "/etc/api/tls", readOnly: true },
        ]);
        // herd's own come first, as before.
        expect(pod.volumes.map((v) => v.name).slice(0, 2)).to.deep.equal(["tmp", "files"]);
    });

    it("annotates the pods with the fleet's annotations beside Prometheus's, sorted by key", () => {
        expect(spec.template.metadata.annotations).to.deep.equal({
            "example.org/team": "payments",
            "prometheus.io/path": "/metrics",
            "prometheus.io/port": "8080",
            "prometheus.io/scrape": "true",
            "sidecar.istio.io/inject": "false",
        });
    });

    it("requests and limits what the fleet says, numbers in YAML taken as quantities", () => {
        expect(pod.containers[0].resources).to.deep.equal({ requests: { cpu: "0.25", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } });
    });

    it("passes the Kubernetes schema, and so do the defaults", () => {
        deployment(spec);
        const plain = resolveWorkload("api", { size: 3, release: RELEASE });
        deployment(buildDeploymentSpec(plain, plain.roles[0], { files: "cm-files" }));
    });

    it("gives the same pods for the same settings in another key order", () => {
        const reversed = argsOf({
            ...base,
            ...SETTINGS,
            volumes: Object.fromEntries(Object.entries(SETTINGS.volumes).reverse()),
            podAnnotations: Object.fromEntries(Object.entries(SETTINGS.podAnnotations).reverse()),
        });
        const other = resolveWorkload("api", reversed);
        expect(JSON.stringify(buildDeploymentSpec(other, other.roles[0], { files: "cm-files" }))).to.equal(JSON.stringify(spec));
    });

    it("leaves a fleet without them as it was: no service account, no token, no pull secrets, herd's volumes only", () => {
        const plain = resolveWorkload("api", { size: 3, release: RELEASE });
        const plainPod = buildDeploymentSpec(plain, plain.roles[0], { files: "cm-files" }).template.spec;
        expect(plainPod.automountServiceAccountToken).to.equal(false);
        expect(plainPod).to.not.have.any.keys("serviceAccountName", "imagePullSecrets");
        expect(plainPod.volumes.map((v) => v.name)).to.deep.equal(["tmp", "files"]);
    });

    it("does not change the generation: the pod settings roll the pods, they are not the release", () => {
        const plain = resolveWorkload("api", { size: 3, release: RELEASE });
        expect(w.roles[0].generation).to.equal(plain.roles[0].generation);
    });
});

describe("kubernetes pod settings: through the program", function () {
    this.timeout(60_000);

    it("reach the prod api fleet's Deployments, which pass the Kubernetes schema", async () => {
        const config = stackConfig("prod");
        const fleets = config["herd:fleets"] as Record<string, Record<string, unknown>>;
        Object.assign(fleets.api, SETTINGS);
        const run = await runStack("prod", config);
        for (const role of ["stable", "canary"]) {
            const object = run.named(`api-${role}`, "kubernetes:apps/v1:Deployment");
            const spec = object.inputs.spec as ReturnType<typeof buildDeploymentSpec>;
            expect(spec.template.spec.serviceAccountName).to.equal("api-reader");
            expect(spec.template.spec.volumes.map((v) => v.name)).to.include.members(["cache", "scratch", "settings", "shared", "tls"]);
            deployment(spec);
        }
    });

    it("keep the secrets of the release secret, beside them", async () => {
        const TOKEN_CT = "v1:dG9rZW4tc2FsdA==:dG9rZW4tY2lwaGVydGV4dA==";
        const fleet = { ...base, ...SETTINGS, release: { ...RELEASE, env: { TOKEN: { secure: TOKEN_CT } } } };
        const run = await runProgram({
            program: path.join(PROJECT_DIR, "index.ts"),
            projectDir: PROJECT_DIR,
            stack: "hostile",
            config: { "herd:fleets": { api: fleet } },
            secrets: { [TOKEN_CT]: "s3cr3t" },
        });
        const secret = run.ofType("kubernetes:core/v1:Secret");
        expect(secret).to.have.length(1);
        expect(isSecret(secret[0].inputs.stringData)).to.equal(true);
        expect(JSON.stringify(run.ofType("kubernetes:apps/v1:Deployment").map((d) => d.inputs))).to.not.contain("s3cr3t");
    });

    it("are refused as secrets: names, paths and annotations show in plans and the pods' metadata", () => {
        const TOKEN_CT = "v1:dG9rZW4tc2FsdA==:dG9rZW4tY2lwaGVydGV4dA==";
        const marker = secretMarker({ secure: TOKEN_CT });
        const fleets = { api: { ...base, podAnnotations: { "example.org/token": { secure: TOKEN_CT } }, volumes: { tls: { secret: { secure: TOKEN_CT }, mountPath: "/etc/tls" } } } };
        let message = "";
        try {
            resolveStack({ fleets }, { stack: "prod", projectDir: PROJECT_DIR, stored: { "herd:fleets": fleets } });
        } catch (err) {
            message = (err as Error).message;
        }
        const where = "only a container release's env values and file contents can be secret (they reach the members as secrets); herd shows every other value in names, plans and messages";
        expect(message.split("\n").slice(1)).to.deep.equal([
            `  - herd:fleets.api.volumes.tls.secret = "${marker}": expected a value in plain text: ${where}`,
            `  - herd:fleets.api.podAnnotations.example.org/token = "${marker}": expected a value in plain text: ${where}`,
        ]);
        // From code, a marker in an annotation is refused too: it would show in the pod's metadata.
        expect(codeLines({ size: 1, release: RELEASE, podAnnotations: { "example.org/token": marker } })).to.deep.equal([
            `  - podAnnotations.example.org/token = "${marker}": expected no secret: annotations show in the pod's metadata; a secret belongs in the release's env or files`,
        ]);
    });

    it("refuse a bad setting before anything is registered, in the stack config and from code", async () => {
        const config = stackConfig("prod");
        (config["herd:fleets"] as Record<string, Record<string, unknown>>).api.volumes = { data: { emptyDir: {}, mountPath: "data" } };
        const error = await rejectionOf(runStack("prod", config));
        expect(error).to.be.instanceOf(ProgramError);
        expect(error.message).to.contain('Invalid herd config in stack "prod" (Pulumi.prod.yaml), 1 problem:\n  - herd:fleets.api.volumes.data.mountPath = "data": expected an absolute file path');
        expect((error as ProgramError).resources).to.have.length(0);

        const code = (await rejectionOf(
            runProgram({ program: () => new KubernetesWorkload("api", { size: 1, release: RELEASE, volumes: { data: { emptyDir: {}, mountPath: "data" } } }), config: {} }),
        )) as ProgramError;
        expect(code.message).to.contain('KubernetesWorkload "api": invalid arguments:\n  - volumes.data.mountPath = "data": expected an absolute file path');
        expect(code.resources).to.have.length(0);
    });
});

describe("kubernetes pod settings: refused with the same words in the stack config and from code", () => {
    const DNS = "a DNS subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)";
    const VOLUME_NAME =
        "a volume name: a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters), not tmp, files or secret-files (herd's own)";
    const MEMORY = "a memory quantity in bytes such as 128Mi, 1Gi or 512M ('m' is a thousandth: 128m would be 0.128 bytes)";
    const table: [string, Record<string, unknown>, string[]][] = [
        ["a service account that is no name", { serviceAccountName: "API reader" }, [`serviceAccountName = "API reader": expected the name of a ServiceAccount in the fleet's namespace: ${DNS}`]],
        ["a pull secret named twice", { imagePullSecrets: ["regcred", "regcred"] }, ['imagePullSecrets[1] = "regcred": expected a Secret imagePullSecrets[0] does not name already']],
        ["a pull secret that is no name", { imagePullSecrets: ["Reg_Cred"] }, [`imagePullSecrets[0] = "Reg_Cred": expected the name of a Secret in the fleet's namespace: ${DNS}`]],
        ["a volume name that is no DNS label", { volumes: { Data: { emptyDir: {}, mountPath: "/data" } } }, [`volumes.Data = "Data": expected ${VOLUME_NAME}`]],
        ["a volume named as one of herd's", { volumes: { tmp: { emptyDir: {}, mountPath: "/scratch" } } }, [`volumes.tmp = "tmp": expected ${VOLUME_NAME}`]],
        ["a relative mount path", { volumes: { data: { emptyDir: {}, mountPath: "data" } } }, ['volumes.data.mountPath = "data": expected an absolute file path']],
        [
            "a mount path with '..'",
            { volumes: { data: { emptyDir: {}, mountPath: "/data/../etc" } } },
            ["volumes.data.mountPath = \"/data/../etc\": expected a normalized absolute file path: no '//', '/./', '..' or trailing '/'"],
        ],
        [
            "a newline in a mount path",
            { volumes: { data: { emptyDir: {}, mountPath: "/data\n/etc" } } },
            ["volumes.data.mountPath = (a text of 10 characters on 2 lines): expected an absolute file path without control characters (newline, NUL, tab)"],
        ],
        [
            "a NUL in a mount path",
            { volumes: { data: { emptyDir: {}, mountPath: "/data\u0000" } } },
            ['volumes.data.mountPath = "/data\\u0000": expected an absolute file path without control characters (newline, NUL, tab)'],
        ],
        ["a mount at /tmp", { volumes: { data: { emptyDir: {}, mountPath: "/tmp" } } }, ['volumes.data.mountPath = "/tmp": expected a path herd mounts nothing at: /tmp is the pod\'s writable scratch directory']],
        [
            "a mount over a release file",
            { volumes: { data: { configMap: "api", mountPath: "/etc/api/api.yaml" } } },
            ['volumes.data.mountPath = "/etc/api/api.yaml": expected a path herd mounts nothing at: a file of the release is mounted there'],
        ],
        [
            "two volumes at one path",
            { volumes: { a: { emptyDir: {}, mountPath: "/data" }, b: { secret: "b", mountPath: "/data" } } },
            ['volumes.b.mountPath = "/data": expected a path no other volume is mounted at (volumes.a is)'],
        ],
        ["a volume without a source", { volumes: { data: { mountPath: "/data" } } }, ['volumes.data = {"mountPath":"/data"}: expected exactly one source: emptyDir, secret, configMap, persistentVolumeClaim']],
        [
            "a volume with two sources",
            { volumes: { data: { secret: "a", configMap: "b", mountPath: "/data" } } },
            ['volumes.data.configMap = "b": expected exactly one source: emptyDir, secret, configMap, persistentVolumeClaim (this volume has secret and configMap)'],
        ],
        ["a claim that is no name", { volumes: { data: { persistentVolumeClaim: "data_1", mountPath: "/data" } } }, [`volumes.data.persistentVolumeClaim = "data_1": expected the name of a PersistentVolumeClaim in the fleet's namespace: ${DNS}`]],
        ["an unknown medium", { volumes: { data: { emptyDir: { medium: "HugePages" }, mountPath: "/data" } } }, ['volumes.data.emptyDir.medium = "HugePages": expected Memory (a tmpfs), or no medium for the node\'s disk']],
        ["a size limit that is no size", { volumes: { data: { emptyDir: { sizeLimit: "lots" }, mountPath: "/data" } } }, ['volumes.data.emptyDir.sizeLimit = "lots": expected a size such as 64Mi or 1Gi']],
        [
            "an annotation key that is no key",
            { podAnnotations: { "example.org/": "x" } },
            ['podAnnotations.example.org/ = "example.org/": expected an annotation key such as example.org/team: an optional DNS-subdomain prefix and \'/\', then a name of at most 63 letters, digits, \'-\', \'_\' or \'.\''],
        ],
        [
            "an annotation herd sets",
            { podAnnotations: { "prometheus.io/scrape": "false" } },
            ['podAnnotations.prometheus.io/scrape = "false": expected an annotation herd does not set: herd sets prometheus.io/path, port and scrape from metrics'],
        ],
        ["memory in thousandths of a byte", { resources: { limits: { memory: "512m" } } }, [`resources.limits.memory = "512m": expected ${MEMORY}`]],
        ["CPU that is no quantity", { resources: { requests: { cpu: "two" } } }, ['resources.requests.cpu = "two": expected a CPU quantity such as 250m (a quarter of a core), 1 or 1.5']],
        [
            "a request above the default limit",
            { resources: { requests: { memory: "512Mi" } } },
            ['resources.requests.memory = "512Mi": expected at most the memory limit (256Mi by default): a pod cannot reserve more than it may use'],
        ],
        [
            "a limit below the default request",
            { resources: { limits: { cpu: "50m" } } },
            ['resources.limits.cpu = "50m": expected at least the cpu request (100m by default): a pod cannot use less than it reserves'],
        ],
        [
            "a request above the given limit",
            { resources: { requests: { cpu: "2" }, limits: { cpu: "1500m" } } },
            ['resources.requests.cpu = "2": expected at most the cpu limit (1500m): a pod cannot reserve more than it may use'],
        ],
    ];
    for (const [title, settings, lines] of table) {
        it(`refuses ${title}`, () => {
            expect(configLines({ ...base, ...settings })).to.deep.equal(lines.map((line) => `  - herd:fleets.api.${line}`));
            expect(codeLines({ size: 3, release: RELEASE, ...settings } as KubernetesWorkloadArgs)).to.deep.equal(lines.map((line) => `  - ${line}`));
        });
    }

    it("refuses a token setting that is not a boolean, and an unknown key of a volume, in the stack config", () => {
        expect(configLines({ ...base, automountServiceAccountToken: "yes", volumes: { data: { emptyDir: {}, mountPath: "/data", readonly: true } } })).to.deep.equal([
            '  - herd:fleets.api.automountServiceAccountToken = "yes": expected true | false: whether the pods get the service account\'s API token',
            '  - herd:fleets.api.volumes.data.readonly = true: unknown key; did you mean "readOnly"? allowed keys: mountPath, readOnly, emptyDir, secret, configMap, persistentVolumeClaim',
        ]);
        expect(codeLines({ size: 3, release: RELEASE, automountServiceAccountToken: "yes" as unknown as boolean })).to.deep.equal([
            '  - automountServiceAccountToken = "yes": expected true | false: whether the pods get the service account\'s API token',
        ]);
    });

    it("lets herd's Prometheus annotations be set by hand when metrics are off (from code)", () => {
        expect(codeLines({ size: 3, release: RELEASE, metrics: false, podAnnotations: { "prometheus.io/scrape": "false" } })).to.deep.equal([]);
    });

    it("reads quantities as Kubernetes does", () => {
        expect([quantityValue("250m"), quantityValue("1"), quantityValue("1.5"), quantityValue("128Mi"), quantityValue("1G"), quantityValue("1e3"), quantityValue("-1")]).to.deep.equal([
            0.25,
            1,
            1.5,
            128 * 2 ** 20,
            1e9,
            1000,
            undefined,
        ]);
    });
});

describe("kubernetes pod settings: the README", () => {
    const readme = fs.readFileSync(path.join(PROJECT_DIR, "README.md"), "utf8");

    it("shows a fleet that herd takes as it is written, and whose Deployments pass the Kubernetes schema", async () => {
        const { parse } = await import("yaml");
        const section = readme.slice(readme.indexOf("### Kubernetes fleets: pod settings"));
        const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
        // The sample's digest is elided; any digest will do.
        const fleets = parse(block.replace("sha256:…", `sha256:${"b".repeat(64)}`)) as Record<string, object>;
        expect(Object.keys(fleets)).to.deep.equal(["api"]);
        const [fleet] = resolveFleets(fleets, { stack: "prod", projectDir: PROJECT_DIR });
        const w = resolveWorkload("api", fleet.args as KubernetesWorkloadArgs);
        const spec = buildDeploymentSpec(w, w.roles[0], {});
        expect(spec.template.spec.volumes.map((v) => v.name)).to.deep.equal(["tmp", "cache", "settings", "shared", "tls"]);
        deployment(spec);
    });

    it("has a row in the config reference for every key of every fleet", () => {
        const keys = new Set([kubernetesFleetSchema, openstackFleetSchema, dockerFleetSchema].flatMap((schema) => Object.keys(schema.shape)));
        const missing = [...keys].filter((key) => !new RegExp(`^\\| \`${key}[.\` ]`, "m").test(readme));
        expect(missing).to.deep.equal([]);
    });
});
