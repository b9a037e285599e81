import type { z } from "zod/mini";
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
    return text(what).check(zod.maxLength(255, expect(allowed)), zod.refine((value: string) => !/[\u0000-\u001f\u007f]/.test(value), expect(allowed)));
};

/** What an OpenStack member runs. Any change to one of these replaces the member. */
export const serverReleaseSchema = lazy(() =>
    strict({
        image: cloudName("an image ID (preferred) or name"),
        flavor: cloudName("a flavor name or ID"),
        network: zod.optional(cloudName("a network name or ID")),
        networks: zod.optional(
            zod.array(cloudName("a network name or ID"), expect("a list of network names or IDs")).check(zod.minLength(1, expect("at least one network"))),
        ),
        keyPair: zod.optional(cloudName("a key pair name")),
        securityGroups: zod.optional(zod.array(cloudName("a security group name"), expect("a list of security group names"))),
        userData: zod.optional(projectFilePath("a #cloud-config file")),
    }),
);

const ingressRule = lazy(() =>
    strict({
        port,
        protocol: zod.optional(zod.enum(["tcp", "udp"], expect("tcp | udp"))),
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
        rollout: zod.optional(rolloutSchemaOf(serverReleaseSchema)),
        loadBalancer: zod.optional(
            strict({
                port,
                protocol: zod.optional(zod.enum(["HTTP", "HTTPS", "TCP"], expect("HTTP | HTTPS | TCP"))),
                network: zod.optional(text("a network name or ID for the VIP")),
            }),
        ),
        ingress: zod.optional(zod.array(ingressRule, expect("a list of { port, protocol, cidr }"))),
        volume: zod.optional(
            strict({
                size: wholeNumber(1),
                type: zod.optional(text("a Cinder volume type")),
            }),
        ),
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
        computeHosts: zod.optional(wholeNumber(1)),
        // The project's quota, for the preflight of `herd plan` and `herd apply` when the cloud is
        // not reachable (where it is, Nova's own limits are used).
        quota: zod.optional(
            strict({
                instances: zod.optional(wholeNumber(0)),
                cores: zod.optional(wholeNumber(0)),
                ramMB: zod.optional(wholeNumber(0)),
            }),
        ),
        // Flavor sizes by name, for vCPUs and RAM in the preflight when the cloud is not reachable.
        flavors: zod.optional(
            zod.record(text("a flavor name"), strict({ vcpus: wholeNumber(1), ramMB: wholeNumber(1) }), expect("a map of flavor name: { vcpus, ramMB }")),
        ),
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
