import type { z } from "zod";
import { lazy } from "../config/lazy";
import { expect, fleetSchemaOf, port, projectFilePath, rolloutSchemaOf, strict, text, wholeNumber, zod } from "../config/schema";
import { parseIpv4Cidr } from "../config/grammar";

/**
 * What an OpenStack fleet is in the stack config (`backend: openstack` under `herd:fleets`) and
 * what `herd:openstack` declares of the cloud: the schemas the fleet registry validates them with.
 */

/**
 * The most members one OpenStack fleet may have: 5000, the largest fleet the benchmark (`bench/`)
 * measures. Every member is a few resources that `pulumi up` registers one by one, and 5,000
 * already take about a minute and 3 GB to evaluate.
 */
export const OPENSTACK_MAX_SIZE = 5000;

/**
 * The name or ID of an OpenStack object (image, flavor, network, key pair, security group), as
 * the cloud looks it up: at most 255 characters, none of them a control character (a newline
 * would only fail, or match nothing, once the provider asks the cloud).
 */
const cloudName = (what: string) => {
    const allowed = `${what}: at most 255 characters, no control character`;
    return text(what).max(255, expect(allowed)).refine((value) => !/[\u0000-\u001f\u007f]/.test(value), expect(allowed));
};

/** What an OpenStack member runs. Any change to one of these replaces the member. */
export const serverReleaseSchema = lazy(() =>
    strict({
        image: cloudName("an image ID (preferred) or name"),
        flavor: cloudName("a flavor name or ID"),
        network: cloudName("a network name or ID").optional(),
        networks: zod.array(cloudName("a network name or ID"), expect("a list of network names or IDs")).min(1, expect("at least one network")).optional(),
        keyPair: cloudName("a key pair name").optional(),
        securityGroups: zod.array(cloudName("a security group name"), expect("a list of security group names")).optional(),
        userData: projectFilePath("a #cloud-config file").optional(),
    }),
);

const ingressRule = lazy(() =>
    strict({
        port,
        protocol: zod.enum(["tcp", "udp"], expect("tcp | udp")).optional(),
        cidr: zod.string(expect("an IPv4 CIDR such as 10.0.0.0/8")).check((ctx) => {
            const parsed = parseIpv4Cidr(ctx.value);
            if (typeof parsed === "string") {
                ctx.issues.push({ code: "custom", input: ctx.value, message: `an IPv4 CIDR such as 10.0.0.0/8; this one: ${parsed}` });
            }
        }),
    }),
);

/** An OpenStack fleet in the stack config (`backend: openstack`): what its `config.ts` turns into `ServerGroupArgs`. */
export const openstackFleetSchema = lazy(() =>
    fleetSchemaOf("openstack", OPENSTACK_MAX_SIZE, {
        release: serverReleaseSchema,
        rollout: rolloutSchemaOf(serverReleaseSchema).optional(),
        loadBalancer: strict({
            port,
            protocol: zod.enum(["HTTP", "HTTPS", "TCP"], expect("HTTP | HTTPS | TCP")).optional(),
            network: text("a network name or ID for the VIP").optional(),
        }).optional(),
        ingress: zod.array(ingressRule, expect("a list of { port, protocol, cidr }")).optional(),
        volume: strict({
            size: wholeNumber(1),
            type: text("a Cinder volume type").optional(),
        }).optional(),
    }),
);


/**
 * `herd:openstack`: what the stack declares of its OpenStack cloud. `computeHosts` is the number
 * of compute hosts the project's servers can be placed on: with it, a fleet with hard
 * anti-affinity that cannot fit (one host per member, plus one per member of a batch with
 * create-before-delete) is refused before any server is created. `quota` and `flavors` declare
 * the project's quota and flavor sizes for the preflight (see components/openstack/preflight.ts).
 */
export const openstackSettingsSchema = lazy(() =>
    strict({
        computeHosts: wholeNumber(1).optional(),
        // The project's quota, for the preflight of `herd plan` and `herd apply` when the cloud is
        // not reachable (where it is, Nova's own limits are used).
        quota: strict({
            instances: wholeNumber(0).optional(),
            cores: wholeNumber(0).optional(),
            ramMB: wholeNumber(0).optional(),
        }).optional(),
        // Flavor sizes by name, for vCPUs and RAM in the preflight when the cloud is not reachable.
        flavors: zod
            .record(text("a flavor name"), strict({ vcpus: wholeNumber(1), ramMB: wholeNumber(1) }), expect("a map of flavor name: { vcpus, ramMB }"))
            .optional(),
    }),
);

/**
 * `herd:openstack` as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type OpenStackSettings = z.infer<typeof openstackSettingsSchema>;


/** A release of an OpenStack fleet as the stack config gives it (`userData` is a path to a file). */
export type ServerReleaseConfig = z.infer<typeof serverReleaseSchema>;
/**
 * An OpenStack fleet as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type OpenStackFleetConfig = z.infer<typeof openstackFleetSchema>;
