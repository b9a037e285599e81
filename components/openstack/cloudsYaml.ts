/**
 * The OpenStack credentials of the environment, as the OpenStack provider and the `openstack`
 * command find them: the `OS_*` variables an `openrc` sets, or, with `OS_CLOUD`, the named cloud
 * of a `clouds.yaml` (and its `secure.yaml`), looked up where openstacksdk looks.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { YAML } from "../config/lazy";

/** Where a `clouds.yaml` (or `secure.yaml`) is looked for, first found first: `OS_CLIENT_CONFIG_FILE` (or `OS_CLIENT_SECURE_FILE`), the working directory, `~/.config/openstack`, `/etc/openstack`. */
export function cloudsFiles(env: NodeJS.ProcessEnv, name: "clouds.yaml" | "secure.yaml"): string[] {
    const given = name === "clouds.yaml" ? env.OS_CLIENT_CONFIG_FILE : env.OS_CLIENT_SECURE_FILE;
    const home = env.HOME ?? os.homedir();
    return [...(given ? [given] : []), path.resolve(name), path.join(home, ".config", "openstack", name), path.join("/etc/openstack", name)];
}

/** `clouds.<name>.auth` keys and the `OS_*` variable each stands for. */
const AUTH_VARIABLES: Readonly<Record<string, string>> = {
    auth_url: "OS_AUTH_URL",
    username: "OS_USERNAME",
    user_id: "OS_USER_ID",
    password: "OS_PASSWORD",
    token: "OS_TOKEN",
    project_name: "OS_PROJECT_NAME",
    project_id: "OS_PROJECT_ID",
    tenant_name: "OS_PROJECT_NAME",
    tenant_id: "OS_PROJECT_ID",
    user_domain_name: "OS_USER_DOMAIN_NAME",
    user_domain_id: "OS_USER_DOMAIN_ID",
    project_domain_name: "OS_PROJECT_DOMAIN_NAME",
    project_domain_id: "OS_PROJECT_DOMAIN_ID",
};

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

/** The named cloud of the first readable file of `files`, `undefined` when none holds it. */
function cloudIn(files: readonly string[], cloud: string): { file: string; entry: Record<string, unknown> } | undefined {
    for (const file of files) {
        let text: string;
        try {
            text = fs.readFileSync(file, "utf8");
        } catch {
            continue;
        }
        let doc: unknown;
        try {
            doc = YAML.parse(text);
        } catch (err) {
            // The parser's message quotes no line of the file (it may hold a password).
            throw new Error(`OS_CLOUD=${cloud}: ${file} is not valid YAML (${(err as Error).name})`);
        }
        const entry = isObject(doc) && isObject(doc.clouds) ? doc.clouds[cloud] : undefined;
        return isObject(entry) ? { file, entry } : undefined;
    }
    return undefined;
}

/**
 * The environment with the credentials of `OS_CLOUD` filled in as `OS_*` variables, from its
 * `clouds.yaml` entry merged with its `secure.yaml` entry; variables the environment sets
 * already win (a password kept out of the file, say). The environment as it is without
 * `OS_CLOUD`, or with `OS_AUTH_URL` set.
 *
 * @throws Error naming the cloud and the files looked at when no `clouds.yaml` holds the cloud
 */
export function openstackEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const cloud = env.OS_CLOUD;
    if (!cloud || env.OS_AUTH_URL) {
        return env;
    }
    const files = cloudsFiles(env, "clouds.yaml");
    const found = cloudIn(files, cloud);
    if (!found) {
        throw new Error(`OS_CLOUD=${cloud}: no cloud of that name in a clouds.yaml (looked at ${files.join(", ")})`);
    }
    const secure = cloudIn(cloudsFiles(env, "secure.yaml"), cloud)?.entry ?? {};
    const auth = { ...(isObject(found.entry.auth) ? found.entry.auth : {}), ...(isObject(secure.auth) ? secure.auth : {}) };
    const merged = { ...found.entry, ...secure };
    const filled: Record<string, string> = {};
    const set = (variable: string, value: unknown) => {
        if ((typeof value === "string" && value !== "") || typeof value === "number") {
            filled[variable] ??= String(value);
        }
    };
    for (const [key, variable] of Object.entries(AUTH_VARIABLES)) {
        set(variable, auth[key]);
    }
    // openstacksdk's default_domain stands for a domain the entry does not name.
    for (const which of ["USER", "PROJECT"]) {
        if (!filled[`OS_${which}_DOMAIN_NAME`] && !filled[`OS_${which}_DOMAIN_ID`]) {
            set(`OS_${which}_DOMAIN_ID`, merged.default_domain);
        }
    }
    set("OS_REGION_NAME", merged.region_name);
    set("OS_INTERFACE", merged.interface);
    if (!filled.OS_AUTH_URL) {
        throw new Error(`OS_CLOUD=${cloud}: its entry in ${found.file} has no auth.auth_url`);
    }
    const given = Object.fromEntries(Object.entries(env).filter(([name, value]) => name.startsWith("OS_") && value !== undefined && value !== ""));
    return { ...env, ...filled, ...given };
}
