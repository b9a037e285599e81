import * as net from "node:net";
import * as path from "node:path";
import type * as LezerPromql from "@prometheus-io/lezer-promql";

/**
 * Strict grammars for the values herd passes on to something that interprets them: an HTTP
 * check, a shell wrapper's arguments, a systemd unit, a container's file system, Prometheus. A
 * value is checked here, where the stack config (or a component's arguments) is checked, so that
 * nothing a user writes can be read by those as anything but what it claims to be.
 */

/** The PromQL parser, loaded with the first expression to check: a stack without one does not pay for it. */
let parser: typeof LezerPromql.parser | undefined;
function promql(): typeof LezerPromql.parser {
    parser ??= (require("@prometheus-io/lezer-promql") as typeof LezerPromql).parser;
    return parser;
}

/** Longest HTTP path herd accepts for a health check or a metrics endpoint. */
export const HTTP_PATH_MAX = 1024;

const PCHAR = "(?:[A-Za-z0-9\\-._~!*+,=:@]|%[0-9A-Fa-f]{2})";
const HTTP_PATH = new RegExp(`^(?:/${PCHAR}*)+(?:\\?(?:${PCHAR}|[/?&])*)?$`);

/**
 * `true` for the path (and optional query) of an HTTP check: `/` and path segments of letters,
 * digits, `-._~!*+,=:@` and `%XX` escapes, then an optional `?query` of the same and `&`, `/`,
 * `?`; at most 1024 characters. No space, quote, `$`, `;`, `(`, backtick or control character:
 * it goes into a Docker healthcheck, a Kubernetes probe and an Octavia monitor as it is.
 */
export function isHttpPath(value: unknown): value is string {
    return typeof value === "string" && value.length <= HTTP_PATH_MAX && HTTP_PATH.test(value);
}

/** What {@link isHttpPath} allows, in words. */
export const HTTP_PATH_ALLOWED = "an HTTP path such as /healthz: '/' then letters, digits, -._~!*+,=:@ and %XX escapes, an optional ?query, at most 1024 characters";

const HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const BASE_URL = new RegExp(`^(https?)://(${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[0-9A-Fa-f:.]+\\])(?::(\\d{1,5}))?((?:/[A-Za-z0-9\\-._~]+)*)$`);

/**
 * `true` for the base URL of an HTTP service (a Pushgateway, a Prometheus): `http` or `https`, a
 * host name or IP address, an optional port and an optional path of plain segments; no user,
 * password, query, fragment, trailing `/` or character a shell or URL would read differently.
 * Probes put it into the URL they push to, so it is checked rather than quoted.
 */
export function isBaseUrl(value: unknown): value is string {
    if (typeof value !== "string" || value.length > 2048) {
        return false;
    }
    const match = BASE_URL.exec(value);
    if (!match) {
        return false;
    }
    const host = match[2];
    if (host.startsWith("[") && !net.isIPv6(host.slice(1, -1))) {
        return false;
    }
    const port = match[3] === undefined ? undefined : Number(match[3]);
    return port === undefined || (port >= 1 && port <= 65535 && !match[3].startsWith("0"));
}

/** What {@link isBaseUrl} allows, in words. */
export const BASE_URL_ALLOWED = "an http:// or https:// URL of a host (name or IP), an optional port and path, without user, query, fragment or trailing '/'";

/** An IPv4 range, parsed. */
export interface Ipv4Cidr {
    /** The network address. */
    readonly address: string;
    /** Prefix length, 0–32. */
    readonly prefix: number;
}

/**
 * Parses an IPv4 CIDR with Node's own address parser: `10.0.0.0/8`. Returns a reason when it is
 * not one: not an IPv4 address (IPv6, leading zeros, out-of-range octets), a prefix that is not
 * 0–32 written plainly, or host bits set (`10.0.0.1/8`, which Neutron would store as
 * `10.0.0.0/8`, so every preview would show a change).
 */
export function parseIpv4Cidr(value: unknown): Ipv4Cidr | string {
    if (typeof value !== "string") {
        return "not a string";
    }
    const slash = value.indexOf("/");
    const address = slash < 0 ? value : value.slice(0, slash);
    const prefixText = slash < 0 ? "" : value.slice(slash + 1);
    if (!net.isIPv4(address)) {
        return net.isIPv6(address) ? "an IPv6 range: the fleet's security group rules are IPv4" : `${JSON.stringify(address)} is not an IPv4 address`;
    }
    if (!/^(0|[1-9]\d?)$/.test(prefixText) || Number(prefixText) > 32) {
        return "the prefix after '/' must be a whole number from 0 to 32";
    }
    const prefix = Number(prefixText);
    const bits = address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
    const host = prefix === 0 ? bits : bits % 2 ** (32 - prefix);
    if (host !== 0) {
        const network = bits - host;
        const octets = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
        return `host bits are set: the range is ${octets.join(".")}/${prefix}`;
    }
    return { address, prefix };
}

/** Longest path of a file mounted into a container. */
export const FILE_PATH_MAX = 4096;

/**
 * Why a container file path is not one herd mounts, or `undefined` when it is: absolute,
 * normalized (no `//`, `/./`, `..` segment or trailing `/`), not `/` itself, no control
 * character (newline, NUL), at most 4096 characters.
 */
export function containerFilePathProblem(value: unknown): string | undefined {
    if (typeof value !== "string" || !value.startsWith("/")) {
        return "an absolute file path";
    }
    if (value.length > FILE_PATH_MAX) {
        return `an absolute file path of at most ${FILE_PATH_MAX} characters`;
    }
    if (/[\u0000-\u001f\u007f]/.test(value)) {
        return "an absolute file path without control characters (newline, NUL, tab)";
    }
    if (value === "/" || path.posix.normalize(value) !== value || value.endsWith("/") || value.split("/").includes("..")) {
        return "a normalized absolute file path: no '//', '/./', '..' or trailing '/'";
    }
    return undefined;
}

// The grammar of an image reference, as Docker and containerd parse it (distribution/reference):
// [domain[:port]/]path[:tag][@digest], path components lowercase.
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const DOMAIN = "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?";
const IMAGE_REFERENCE = new RegExp(
    `^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);
/** Longest repository name (domain and path) an image reference may have. */
const IMAGE_NAME_MAX = 255;

/** What {@link imageReferenceProblem} allows, in words. */
export const IMAGE_REFERENCE_ALLOWED =
    "an image reference such as registry.example.org/app@sha256:<64 hex digits> or docker.io/library/nginx:1.27-alpine: lowercase path, optional :tag and @digest, no space or control character";

/**
 * Why a value is not an image reference Docker and Kubernetes would pull, or `undefined` when it
 * is one: the grammar of `docker pull` (a first component without `.` or `:` that is not
 * `localhost` is part of the path, hence lowercase), the repository name at most 255 characters.
 */
export function imageReferenceProblem(value: unknown): string | undefined {
    const match = typeof value === "string" ? IMAGE_REFERENCE.exec(value) : null;
    if (match === null) {
        return IMAGE_REFERENCE_ALLOWED;
    }
    const [, domain, path] = match;
    if (domain !== undefined && !/[.:[]/.test(domain) && domain !== "localhost" && !new RegExp(`^${PATH_COMPONENT}$`).test(domain)) {
        return `${IMAGE_REFERENCE_ALLOWED}; ${JSON.stringify(domain)} is no registry (no '.' or ':'), so it is part of the path and must be lowercase`;
    }
    if ((domain === undefined ? 0 : domain.length + 1) + path.length > IMAGE_NAME_MAX) {
        return `${IMAGE_REFERENCE_ALLOWED}; the name before the tag or digest has at most ${IMAGE_NAME_MAX} characters`;
    }
    return undefined;
}

/**
 * `true` for text a process can be given as an argument or in its environment: no NUL
 * character, which `execve` cannot pass (the container would fail to start).
 */
export function isProcessText(value: unknown): value is string {
    return typeof value === "string" && !value.includes("\u0000");
}

/** What {@link isProcessText} allows, in words. */
export const PROCESS_TEXT_ALLOWED = "text without a NUL character, which no process can be given";

/**
 * The most bytes of env values and file contents (with their names and paths) one container
 * release may hold: what one Kubernetes ConfigMap or Secret takes (1 MiB). A container release
 * runs on Docker and Kubernetes alike, so both stop there.
 */
export const RELEASE_DATA_MAX_BYTES = 1024 * 1024;

/** Bytes of a container release's env and files, as {@link RELEASE_DATA_MAX_BYTES} counts them. */
export function releaseDataBytes(release: { readonly env?: Readonly<Record<string, unknown>>; readonly files?: Readonly<Record<string, unknown>> }): number {
    const entries = [...Object.entries(release.env ?? {}), ...Object.entries(release.files ?? {})];
    return entries.reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + (typeof value === "string" ? Buffer.byteLength(value) : 0), 0);
}

/** What {@link RELEASE_DATA_MAX_BYTES} allows, in words, for a release of `bytes`. */
export function releaseDataAllowed(bytes: number): string {
    return `at most ${RELEASE_DATA_MAX_BYTES} bytes of env and files together (what one Kubernetes ConfigMap or Secret holds); this release has ${bytes}`;
}

/** Prometheus functions whose argument is a range (`x[5m]`), which promtool checks. */
const RANGE_FUNCTIONS = new Set([
    "rate", "irate", "increase", "delta", "idelta", "deriv", "predict_linear", "resets", "changes",
    "holt_winters", "double_exponential_smoothing",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "quantile_over_time",
    "stddev_over_time", "stdvar_over_time", "last_over_time", "present_over_time", "absent_over_time", "mad_over_time",
]);

/**
 * Why a PromQL expression does not parse, or `undefined` when it does. Parsed with Prometheus's
 * own grammar (`@prometheus-io/lezer-promql`, which the Prometheus UI uses), plus the check
 * promtool makes most often: a range function (`rate`, `*_over_time`…) given an instant vector.
 */
export function promqlProblem(expr: string): string | undefined {
    if (expr.trim() === "") {
        return "an empty expression";
    }
    const tree = promql().parse(expr);
    let problem: string | undefined;
    tree.iterate({
        enter: (node) => {
            if (problem !== undefined) {
                return false;
            }
            if (node.type.isError) {
                const at = Math.min(node.from, expr.length);
                const near = expr.slice(Math.max(0, at - 10), at + 10).replace(/\s+/g, " ");
                problem = `a syntax error at character ${at + 1} (near ${JSON.stringify(near)})`;
                return false;
            }
            if (node.name === "FunctionCall") {
                const name = node.node.getChild("FunctionIdentifier");
                const body = node.node.getChild("FunctionCallBody");
                const fn = name ? expr.slice(name.from, name.to) : "";
                const first = body?.firstChild;
                if (RANGE_FUNCTIONS.has(fn) && first && first.name !== "MatrixSelector" && first.name !== "SubqueryExpr") {
                    problem = `${fn}() needs a range, such as ${fn}(metric[5m])`;
                    return false;
                }
            }
            return undefined;
        },
    });
    return problem;
}

/** What a PromQL expression evaluates to. */
export type PromqlType = "scalar" | "vector" | "matrix" | "string";

/** A node of a parsed PromQL expression. */
type SyntaxNode = ReturnType<typeof LezerPromql.parser.parse>["topNode"];

/** Functions that return a scalar; every other function returns an instant vector. */
const SCALAR_FUNCTIONS = new Set(["scalar", "time", "pi"]);

/**
 * The type of a PromQL expression that parses (see {@link promqlProblem}), as Prometheus's own
 * type checker derives it: a literal or `scalar()`/`time()`/`pi()` is a scalar, an operation
 * between scalars too; a range selector or a subquery is a range vector; anything else an
 * instant vector. Comments are skipped.
 */
export function promqlType(expr: string): PromqlType {
    const operands = (node: SyntaxNode): SyntaxNode[] => {
        const children: SyntaxNode[] = [];
        for (let child = node.firstChild; child; child = child.nextSibling) {
            if (child.name !== "LineComment") {
                children.push(child);
            }
        }
        return children;
    };
    const typeOf = (node: SyntaxNode | undefined): PromqlType => {
        switch (node?.name) {
            case "NumberDurationLiteral":
                return "scalar";
            case "StringLiteral":
                return "string";
            case "MatrixSelector":
            case "SubqueryExpr":
                return "matrix";
            case "PromQL":
            case "ParenExpr":
            case "OffsetExpr":
            case "StepInvariantExpr":
                return typeOf(operands(node)[0]);
            case "UnaryExpr":
                return typeOf(operands(node).at(-1));
            case "BinaryExpr": {
                const children = operands(node);
                return typeOf(children[0]) === "scalar" && typeOf(children.at(-1)) === "scalar" ? "scalar" : "vector";
            }
            case "FunctionCall": {
                const name = node.getChild("FunctionIdentifier");
                return name && SCALAR_FUNCTIONS.has(expr.slice(name.from, name.to)) ? "scalar" : "vector";
            }
            default:
                return "vector";
        }
    };
    return typeOf(promql().parse(expr).topNode);
}

/** A PromQL expression without its `#` comments, which would swallow what follows it on the line. */
export function withoutPromqlComments(expr: string): string {
    const comments: { from: number; to: number }[] = [];
    promql().parse(expr).iterate({
        enter: (node) => {
            if (node.name === "LineComment") {
                comments.push({ from: node.from, to: node.to });
            }
        },
    });
    return comments.reduceRight((text, { from, to }) => text.slice(0, from) + text.slice(to), expr);
}
