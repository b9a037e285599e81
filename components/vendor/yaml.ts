/**
 * The yaml package, as herd's program reads and writes YAML (stack files, cloud-init user data,
 * Prometheus rule files, clouds.yaml).
 *
 * In the npm package this module is a single file that `npm run build` bundles from yaml's 72
 * modules (`scripts/bundle-vendor.ts`), loaded with the first document read or written (see
 * `config/lazy.ts`). From the sources (tests, tsx) it is this re-export of the yaml package.
 */
export * from "yaml";
