/**
 * A client of the OpenStack started by scripts/openstack/cloud.sh, for tests that assert on the
 * cloud's own API: Keystone's token and catalog, then plain JSON requests to the services' public
 * endpoints. It refuses any endpoint outside 127.0.0.0/8: addresses the cloud hands out are
 * records, never targets.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO } from "./engine";

/** The credentials of an `openrc` file (`export OS_…=…` lines), as environment variables. */
export function readOpenrc(file: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        const match = /^export (OS_[A-Z_]+)=(.*)$/.exec(line.trim());
        if (match) {
            env[match[1]] = match[2].replace(/^(['"])(.*)\1$/, "$2");
        }
    }
    return env;
}

/** The `KEY=value` lines of the cloud's `cloud.env` (IDs of what it was filled with). */
export function readCloudEnv(dir: string): Record<string, string> {
    return Object.fromEntries(
        fs
            .readFileSync(path.join(dir, "cloud.env"), "utf8")
            .split("\n")
            .map((line) => /^([A-Z_]+)=(.*)$/.exec(line.trim()))
            .filter((match): match is RegExpExecArray => match !== null)
            .map((match) => [match[1], match[2]]),
    );
}

type Service = "compute" | "network" | "load-balancer" | "volumev3" | "identity" | "image";

interface CatalogEntry {
    type: string;
    endpoints: { interface: string; region: string; url: string }[];
}

/** A server as Nova's `servers/detail` shows it (microversion 2.79), as far as the tests read it. */
export interface Server {
    id: string;
    name: string;
    status: string;
    metadata: Record<string, string>;
    addresses: Record<string, { addr: string }[]>;
    flavor: { original_name: string };
    /** Why Nova could not build it (the single-server view only). */
    fault?: { message: string };
    /** Admin-only attributes. */
    "OS-EXT-SRV-ATTR:host"?: string | null;
    "OS-EXT-SRV-ATTR:user_data"?: string | null;
}

/** An answer of the API: the status and the parsed body. */
export interface Answer {
    status: number;
    body: any;
}

/** A project's session with the cloud: one token, the catalog's public endpoints. */
export class OpenStack {
    private constructor(
        private readonly token: string,
        private readonly endpoints: Map<string, string>,
    ) {}

    /** Authenticates with the credentials of an `openrc` file. */
    static async login(openrc: string): Promise<OpenStack> {
        const env = readOpenrc(openrc);
        const authUrl = loopback(env.OS_AUTH_URL);
        const response = await fetch(new URL("auth/tokens", `${authUrl.href.replace(/\/?$/, "/")}`), {
            method: "POST",
            headers: { "content-type": "application/json", connection: "close" },
            body: JSON.stringify({
                auth: {
                    identity: {
                        methods: ["password"],
                        password: { user: { name: env.OS_USERNAME, domain: { name: env.OS_USER_DOMAIN_NAME }, password: env.OS_PASSWORD } },
                    },
                    scope: { project: { name: env.OS_PROJECT_NAME, domain: { name: env.OS_PROJECT_DOMAIN_NAME } } },
                },
            }),
        });
        if (response.status !== 201) {
            throw new Error(`Keystone refused the login of ${env.OS_USERNAME}: ${response.status} ${await response.text()}`);
        }
        const token = response.headers.get("x-subject-token") as string;
        const catalog = ((await response.json()) as { token: { catalog: CatalogEntry[] } }).token.catalog;
        const endpoints = new Map<string, string>();
        for (const entry of catalog) {
            const endpoint = entry.endpoints.find((e) => e.interface === "public" && e.region === env.OS_REGION_NAME);
            if (endpoint) {
                endpoints.set(entry.type, loopback(endpoint.url).href.replace(/\/?$/, "/"));
            }
        }
        return new OpenStack(token, endpoints);
    }

    /** One request to a service; `microversion` for Nova (`OpenStack-API-Version: compute …`). */
    async request(service: Service, method: string, urlPath: string, body?: unknown, microversion?: string): Promise<Answer> {
        const base = this.endpoints.get(service);
        if (!base) {
            throw new Error(`the catalog has no public ${service} endpoint`);
        }
        const headers: Record<string, string> = { "x-auth-token": this.token, accept: "application/json", connection: "close" };
        if (body !== undefined) {
            headers["content-type"] = "application/json";
        }
        if (microversion) {
            headers["openstack-api-version"] = `${service} ${microversion}`;
        }
        const response = await fetch(new URL(urlPath.replace(/^\//, ""), base), {
            method,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(60_000),
        });
        const text = await response.text();
        let parsed: unknown = text;
        try {
            parsed = text === "" ? undefined : JSON.parse(text);
        } catch {
            // Not JSON: kept as text.
        }
        return { status: response.status, body: parsed };
    }

    /** GET that must answer 200. */
    async get<T = any>(service: Service, urlPath: string, microversion?: string): Promise<T> {
        const answer = await this.request(service, "GET", urlPath, undefined, microversion);
        if (answer.status !== 200) {
            throw new Error(`GET ${service} ${urlPath}: ${answer.status} ${JSON.stringify(answer.body)}`);
        }
        return answer.body as T;
    }
}

/** The URL, if it is on loopback; throws otherwise. */
function loopback(url: string | undefined): URL {
    const parsed = new URL(url ?? "");
    if (!/^127\.\d+\.\d+\.\d+$/.test(parsed.hostname) && parsed.hostname !== "localhost") {
        throw new Error(`the OpenStack tests only talk to a cloud on loopback, not ${url}`);
    }
    return parsed;
}

/** The cloud an end-to-end test runs against, with the provider installed into the engine. */
export interface Box {
    /** The cloud's run folder (`openrc`, `admin-openrc`, `cloud.env`, …). */
    readonly dir: string;
    /** The test project's session. */
    readonly cloud: OpenStack;
    /** The admin's session. */
    readonly admin: OpenStack;
    /** The project's credentials, as `OS_*` environment variables. */
    readonly env: Record<string, string>;
    /** Stops the cloud and removes its folder if this box started it; otherwise nothing. */
    stop(): void;
}

/**
 * The OpenStack provider installed into the engine's plugins (scripts/openstack/provider.sh), and
 * the cloud: the one started in `HERD_OPENSTACK_RUN` (left running), or one started here in a
 * temporary folder (stopped by `stop`).
 *
 * @param engine the engine's folder (scripts/engine.sh)
 */
export async function openBox(engine: string): Promise<Box> {
    const provider = spawnSync("bash", [path.join(REPO, "scripts", "openstack", "provider.sh")], {
        env: { ...process.env, PULUMI_HOME: path.join(engine, "home") },
        stdio: ["ignore", "ignore", "inherit"],
    });
    if (provider.status !== 0) {
        throw new Error(`scripts/openstack/provider.sh exited ${provider.status}`);
    }
    const shared = process.env.HERD_OPENSTACK_RUN;
    const dir = shared || fs.mkdtempSync(path.join(os.tmpdir(), "herd-openstack-"));
    const cloudScript = (...args: string[]) => spawnSync("bash", [path.join(REPO, "scripts", "openstack", "cloud.sh"), ...args], { stdio: ["ignore", "ignore", "inherit"] });
    const stop = () => {
        if (!shared) {
            cloudScript("stop", dir);
            fs.rmSync(dir, { recursive: true, force: true });
        }
    };
    if (!shared) {
        const started = cloudScript("start", dir);
        if (started.status !== 0) {
            stop();
            throw new Error(`scripts/openstack/cloud.sh start exited ${started.status}`);
        }
    }
    return {
        dir,
        cloud: await OpenStack.login(path.join(dir, "openrc")),
        admin: await OpenStack.login(path.join(dir, "admin-openrc")),
        env: readOpenrc(path.join(dir, "openrc")),
        stop,
    };
}
