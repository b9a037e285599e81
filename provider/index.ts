/**
 * herd's fleets as a Pulumi component package, for programs in Pulumi YAML, Python, Go or .NET:
 * one class per backend, each from its backend's folder (`components/<backend>/componentPackage.ts`),
 * and the vocabulary they share (`components/fleet/componentPackage.ts`). The Node.js SDK's
 * component provider host derives the package schema from their TypeScript types, following
 * these exports.
 */
export * from "../components/fleet/componentPackage";
export * from "../components/openstack/componentPackage";
export * from "../components/kubernetes/componentPackage";
export * from "../components/docker/componentPackage";
