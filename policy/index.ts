import * as pulumi from "@pulumi/pulumi";
import { PolicyPack } from "@pulumi/policy";
import { guardrails } from "./guardrails";

// The Pulumi CLI hands a policy pack the stack's name and config (PULUMI_NODEJS_STACK,
// PULUMI_CONFIG), which the SDK reads like a program does.
new PolicyPack("herd-guardrails", {
    description: "Guardrails for herd's production stacks.",
    enforcementLevel: "mandatory",
    policies: guardrails({
        stack: () => pulumi.getStack(),
        fleets: () => new pulumi.Config("herd").getObject<unknown>("fleets"),
    }),
});
