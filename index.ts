import { stackProgram } from "./components/fleet";

// The whole program is the SDK's stackProgram: every fleet of herd:fleets, built and monitored
// (see components/fleet/stack.ts), from the files of the project root it runs in: this folder
// under `pulumi up`, another revision's files when `herd plan` runs it under the test kit.
const stack = stackProgram();

/** Per fleet: its backend, the generation each slot (or role) runs, and how to reach it. */
export const fleets = stack.fleets;

/**
 * The stack's Prometheus rule file for the fleets outside Kubernetes (OpenStack, Docker), whose
 * Prometheus is configured by hand; Kubernetes fleets carry theirs as PrometheusRule objects.
 */
export const alertRules = stack.alertRules;
