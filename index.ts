import * as pulumi from "@pulumi/pulumi";
import { defaultAlerts, resolveFleets, ruleFile, ServerGroup } from "./components";

// Everything is validated (and every referenced file read) before the first resource exists,
// so a wrong config registers nothing.
const resolved = resolveFleets(new pulumi.Config("herd").getObject("fleets"), {
    stack: pulumi.getStack(),
    projectDir: __dirname,
});

/** Per fleet: its members (slot, name, generation, IP) and, where there is one, the load balancer address. */
export const fleets = Object.fromEntries(
    resolved.map((fleet) => {
        const group = new ServerGroup(fleet.name, fleet.args);
        return [
            fleet.name,
            {
                backend: fleet.backend,
                servers: group.servers,
                generations: group.generations,
                loadBalancerAddress: group.loadBalancerAddress,
            },
        ];
    }),
);

/** The stack's Prometheus rule file: every fleet's default alerts (`promtool check rules` clean). */
export const alertRules = ruleFile(resolved.map((fleet) => defaultAlerts(fleet.alerts)));
