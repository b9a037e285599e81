import * as pulumi from "@pulumi/pulumi";
import type { StackBuild, StackContext, StackFleet } from "../fleet/backend";
import type { OpenStackSettings } from "./schema";
import type * as PreflightModule from "./preflight";
import type { ServerGroupArgs } from "./serverGroup";

/**
 * The OpenStack fleets of a stack program: before any OpenStack resource is registered, the
 * change is held against the project's quota and compute hosts where the environment reaches the
 * cloud (see `programPreflight`); every fleet waits for it, and a refusal registers nothing. Not
 * under the test kit's mocks (`herd plan`, unit tests), where no cloud is reached.
 */
export function openstackStackProgram(fleets: readonly StackFleet<ServerGroupArgs>[], context: StackContext<OpenStackSettings>): () => StackBuild {
    let gate: Promise<pulumi.Resource[]> | undefined;
    return () => {
        if (!gate) {
            const { programPreflight } = require("./preflight") as typeof PreflightModule;
            const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as typeof import("@pulumi/pulumi/runtime/mocks");
            const mocked = pulumi.runtime.getMonitor() instanceof MockMonitor;
            gate = (mocked ? Promise.resolve() : programPreflight(context.stack, fleets, context.settings ?? {}, process.env)).then(() => []);
        }
        return { opts: { dependsOn: gate } };
    };
}
