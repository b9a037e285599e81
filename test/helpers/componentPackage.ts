import * as shared from "../../components/fleet/componentPackage";
import * as docker from "../../components/docker/componentPackage";
import * as kubernetes from "../../components/kubernetes/componentPackage";
import * as openstack from "../../components/openstack/componentPackage";

/**
 * The component package's classes, args mappings and enums, from the sources: what the plugin's
 * entry (`dist/provider/index.ts`, written by `npm run build` from the fleet registry) exports.
 */
export const plugin = { ...shared, ...openstack, ...kubernetes, ...docker };

/** Each module on its own, for its types: the shared vocabulary and each backend's class and args. */
export { docker, kubernetes, openstack, shared };
