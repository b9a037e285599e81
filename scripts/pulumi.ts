/**
 * Runs the real `pulumi` CLI on the Pulumi project in the current directory, with this process
 * as the program's Node.js language runtime.
 *
 *     node --import tsx scripts/pulumi.ts preview --stack engine --diff --json
 *
 * The CLI normally starts `pulumi-language-nodejs`, which starts Node.js on the project's `main`.
 * Here the runtime is the one `@pulumi/pulumi` ships for Automation API inline programs
 * (`LanguageServer`): this process serves it on a loopback port, hands its address to the CLI
 * (`--client`), and the engine runs the program through it. The program is the project's `main`
 * (Pulumi.yaml), loaded with whatever loader runs this file (tsx), once per CLI command, as the
 * language host does; its exports become the stack outputs. Everything else is the real engine:
 * config, state, plugins, diffs, replacements.
 *
 * The CLI is `$PULUMI` or `pulumi` on the PATH. The CLI's standard output is passed through
 * untouched (for `--json`); anything the program prints goes to standard error. The exit code is
 * the CLI's.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

/** The Automation API's language runtime server (internal to `@pulumi/pulumi`, hence untyped). */
interface LanguageServer {
    onPulumiExit(hasError: boolean): void;
}
interface GrpcServer {
    addService(service: unknown, implementation: unknown): void;
    bindAsync(address: string, credentials: unknown, callback: (err: Error | null, port: number) => void): void;
    forceShutdown(): void;
}

// Everything comes from the project's own `@pulumi/pulumi`, so that the program and the runtime
// share one SDK instance (its settings and stack state are module-level).
const projectDir = process.cwd();
const sdkRequire = createRequire(require.resolve("@pulumi/pulumi/package.json", { paths: [projectDir] }));
const grpc = sdkRequire("@grpc/grpc-js") as {
    Server: new (options: object) => GrpcServer;
    ServerCredentials: { createInsecure(): unknown };
};
const { LanguageServer } = sdkRequire("./automation/server") as {
    LanguageServer: new (program: () => Promise<unknown>) => LanguageServer;
};
const { LanguageRuntimeService } = sdkRequire("./proto/language_grpc_pb") as { LanguageRuntimeService: unknown };
const { grpcChannelOptions } = sdkRequire("./runtime") as { grpcChannelOptions: object };

/** The project's entry point: `main` in Pulumi.yaml (a file or a folder with an index), as the Node.js host reads it. */
function projectMain(dir: string): string {
    const project = parse(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as { main?: string };
    return path.resolve(dir, project.main ?? ".");
}

/** Loads the program inside the stack, as the Node.js host does: a default export or a function is called, the rest are the outputs. */
async function runProgram(main: string): Promise<unknown> {
    let exported = require(main) as Record<string, unknown> | ((...args: unknown[]) => unknown);
    if (typeof exported === "object" && exported !== null && "default" in exported) {
        exported = exported.default as typeof exported;
    }
    return typeof exported === "function" ? await exported() : exported;
}

async function main(args: string[]): Promise<number> {
    const program = projectMain(projectDir);
    const languageServer = new LanguageServer(() => runProgram(program));
    const server = new grpc.Server({ ...grpcChannelOptions });
    server.addService(LanguageRuntimeService, languageServer);
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );

    // Keep standard output for the CLI alone: the program's console output goes to standard error.
    const toStderr = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
    process.stdout.write = toStderr;

    const cli = process.env.PULUMI ?? "pulumi";
    const child = spawn(cli, [...args, `--client=127.0.0.1:${port}`], { stdio: ["ignore", "inherit", "inherit"] });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    const code = await new Promise<number>((resolve, reject) => {
        child.on("error", reject);
        child.on("exit", (status, signal) => resolve(status ?? (signal ? 128 : 1)));
    });
    try {
        languageServer.onPulumiExit(code !== 0);
    } catch (err) {
        process.stderr.write(`pulumi.ts: ${(err as Error).message}\n`);
        return code === 0 ? 1 : code;
    } finally {
        server.forceShutdown();
    }
    return code;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
        process.stderr.write(`pulumi.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exit(1);
    },
);
