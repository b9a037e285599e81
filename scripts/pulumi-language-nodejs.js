#!/usr/bin/env node
// herd: the engine's stand-in for pulumi-language-nodejs, for Node.js policy packs only.
/*
 * The Pulumi CLI runs a Node.js policy pack (`pulumi preview --policy-pack policy`) through the
 * `nodejs` language host: it asks the host to RunPlugin the pack, and the host starts the
 * policy-pack runner that @pulumi/pulumi ships (`@pulumi/pulumi/cmd/run-policy-pack`, resolved
 * from the pack's folder) with Node.js. The Go module proxy does not serve the real host
 * (scripts/engine.sh), so scripts/engine.sh installs this file in its place, and programs are
 * served by scripts/pulumi.ts instead. This host does only what policy packs need:
 *
 * - It answers the CLI's RunPlugin for an analyzer with the port of an analyzer of its own, which
 *   takes the engine's ConfigureStack (stack, project, config) and hands it to the pack as the
 *   environment the Node.js SDK reads (PULUMI_NODEJS_STACK, PULUMI_CONFIG, …), as the real host
 *   does: that is how `pulumi.getStack()` and `new pulumi.Config()` work inside a policy pack.
 * - It then starts the runner (`node [nodeargs] run-policy-pack <engine> <pack folder>`, in the
 *   pack's folder), reads the port the pack prints, and forwards every analyzer call to the pack;
 *   the rest of the pack's output goes back to the CLI.
 *
 * Anything else (running programs, plugins other than policy packs, installing dependencies) is
 * answered UNIMPLEMENTED. @grpc/grpc-js and the protocol come from the @pulumi/pulumi of the
 * project the CLI runs in (its working folder).
 */
"use strict";

const { spawn } = require("node:child_process");
const { createRequire } = require("node:module");
const readline = require("node:readline");

let sdk;
try {
    sdk = createRequire(require.resolve("@pulumi/pulumi/package.json", { paths: [process.cwd()] }));
} catch {
    process.stderr.write(`pulumi-language-nodejs: no @pulumi/pulumi installed in ${process.cwd()}; run npm install there\n`);
    process.exit(1);
}
const grpc = sdk("@grpc/grpc-js");
const { LanguageRuntimeService } = sdk("./proto/language_grpc_pb");
const languageProto = sdk("./proto/language_pb");
const { AnalyzerService } = sdk("./proto/analyzer_grpc_pb");
const analyzerProto = sdk("./proto/analyzer_pb");
const { PluginInfo } = sdk("./proto/plugin_pb");

const ANALYZER_KIND = "analyzer";

/** Binds a gRPC server with the given service on a loopback port; resolves to the port. */
function serve(server, service, implementation) {
    server.addService(service, implementation);
    return new Promise((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
}

/** A gRPC error with a status code the CLI understands. */
function failure(code, message) {
    return Object.assign(new Error(message), { code });
}

/**
 * Runs one policy pack for the CLI's RunPlugin call, writing its output to the call's stream and
 * its exit code last.
 */
async function runPolicyPack(call) {
    const request = call.request;
    const info = request.getInfo();
    const packDir = info.getProgramDirectory();
    const options = info.getOptions() ? info.getOptions().toJavaScript() : {};
    let cancelled = false;
    const send = (field, value) => {
        if (cancelled) {
            return;
        }
        const response = new languageProto.RunPluginResponse();
        response[field](value);
        call.write(response);
    };

    let runner;
    try {
        runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [packDir] });
    } catch {
        throw failure(grpc.status.FAILED_PRECONDITION, `It looks like the Pulumi SDK has not been installed. Have you run npm install in ${packDir}?`);
    }

    // The analyzer the CLI talks to: it keeps the stack configuration for the pack's environment
    // and forwards everything else to the pack once the pack is up.
    let configured;
    const configuration = new Promise((resolve) => (configured = resolve));
    let attached;
    let refused;
    const pack = new Promise((resolve, reject) => ((attached = resolve), (refused = reject)));
    pack.catch(() => undefined);
    const forward = (method) => (inner, callback) => {
        // Calls other than ConfigureStack first (`pulumi policy publish`) mean no stack configuration.
        configured(undefined);
        pack.then(
            (client) => client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, inner.request, callback),
            (err) => callback(failure(grpc.status.UNAVAILABLE, `policy pack not started: ${err.message}`)),
        );
    };
    const proxy = Object.fromEntries(Object.entries(AnalyzerService).map(([name, method]) => [name, forward(method)]));
    proxy.handshake = (_inner, callback) => callback(null, new analyzerProto.AnalyzerHandshakeResponse());
    proxy.configureStack = (inner, callback) => {
        configured(inner.request);
        callback(null, new analyzerProto.AnalyzerStackConfigureResponse());
    };
    const proxyServer = new grpc.Server();
    const proxyPort = await serve(proxyServer, AnalyzerService, proxy);
    send("setStdout", Buffer.from(`${proxyPort}\n`));

    const stack = await configuration;
    const env = Object.fromEntries(request.getEnvList().map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
    if (options.typescript) {
        env.PULUMI_NODEJS_TYPESCRIPT = "true";
    }
    if (options.tsconfig) {
        env.PULUMI_NODEJS_TSCONFIG_PATH = String(options.tsconfig);
    }
    if (stack) {
        const set = (name, value) => value && (env[name] = value);
        set("PULUMI_NODEJS_ORGANIZATION", stack.getOrganization());
        set("PULUMI_NODEJS_PROJECT", stack.getProject());
        set("PULUMI_NODEJS_STACK", stack.getStack());
        set("PULUMI_NODEJS_DRY_RUN", String(stack.getDryRun()));
        set("PULUMI_CONFIG", JSON.stringify(Object.fromEntries(stack.getConfigMap().toArray())));
    }
    const nodeargs = typeof options.nodeargs === "string" ? options.nodeargs.split(/\s+/).filter(Boolean) : [];
    const child = spawn(process.execPath, [...nodeargs, runner, ...request.getArgsList(), packDir], {
        cwd: packDir,
        env,
        stdio: ["ignore", "pipe", "pipe"],
    });
    // The CLI cancels the call when it is done with the pack.
    call.on("cancelled", () => {
        cancelled = true;
        child.kill("SIGTERM");
    });
    child.stderr.on("data", (chunk) => send("setStderr", chunk));

    // The pack prints its own port first; the rest of its output is the CLI's.
    const lines = readline.createInterface({ input: child.stdout });
    lines.once("line", (line) => {
        const client = new grpc.Client(`127.0.0.1:${line.trim()}`, grpc.credentials.createInsecure());
        const method = AnalyzerService.configureStack;
        const configure = stack
            ? new Promise((resolve, reject) =>
                  client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, stack, (err) =>
                      err && err.code !== grpc.status.UNIMPLEMENTED ? reject(err) : resolve(),
                  ),
              )
            : Promise.resolve();
        configure.then(() => attached(client), refused);
        lines.on("line", (rest) => send("setStdout", Buffer.from(`${rest}\n`)));
    });

    const code = await new Promise((resolve) => child.on("close", (status, signal) => resolve(status ?? (signal ? 1 : 0))));
    refused(new Error(`the policy pack exited with code ${code} before printing its port`));
    send("setExitcode", code);
    if (!cancelled) {
        call.end();
    }
    proxyServer.forceShutdown();
}

async function main() {
    const server = new grpc.Server();
    const port = await serve(server, LanguageRuntimeService, {
        getPluginInfo: (_call, callback) => {
            const info = new PluginInfo();
            info.setVersion(sdk("./package.json").version);
            callback(null, info);
        },
        runPlugin: (call) => {
            if (call.request.getKind() !== ANALYZER_KIND) {
                call.emit("error", failure(grpc.status.UNIMPLEMENTED, `this stand-in for pulumi-language-nodejs runs policy packs only, not ${call.request.getKind() || "plugins"}`));
                return;
            }
            runPolicyPack(call).catch((err) => call.emit("error", err.code ? err : failure(grpc.status.INTERNAL, err.message)));
        },
    });
    // The CLI reads the port from the first line of standard output.
    process.stdout.write(`${port}\n`);
}

main().catch((err) => {
    process.stderr.write(`pulumi-language-nodejs: ${err.stack || err.message}\n`);
    process.exit(1);
});
