import { stackProgram } from "./components/fleet";

// The whole program is the SDK's stackProgram: every fleet of herd:fleets, built and monitored
// (see components/fleet/stack.ts). `herd plan` evaluates it for another revision's files, in
// another folder, and says where with HERD_PROJECT_DIR; Pulumi runs it from here.
const stack = stackProgram({ projectDir: process.env.HERD_PROJECT_DIR ?? __dirname });

/** Per fleet: its backend, the generation each slot (or role) runs, and how to reach it. */
export const fleets = stack.fleets;

/**
 * The stack's Prometheus rule file for the fleets outside Kubernetes (OpenStack, Docker), whose
 * Prometheus is configured by hand; Kubernetes fleets carry theirs as PrometheusRule objects.
 */
export const alertRules = stack.alertRules;
