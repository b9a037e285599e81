/**
 * herd's fleets as a Pulumi component package, for programs in Pulumi YAML, Python, Go or .NET:
 * one class per backend, each from its backend's folder (`components/<backend>/componentPackage.ts`),
 * and the vocabulary they share (`components/fleet/componentPackage.ts`). The Node.js SDK's
 * component provider host derives the package schema from their TypeScript types, following
 * this file's exports.
 *
 * This is the head of the plugin's entry: `npm run build` (`scripts/build-plugins.ts`) writes it
 * to `dist/provider/index.ts` followed by one `export * from "../<backend>/componentPackage"` per
 * backend of the fleet registry (`FLEET_BACKENDS`), so a new backend needs no line here.
 */
export * from "../components/fleet/componentPackage";
