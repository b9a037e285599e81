/**
 * The parts of the yaml package herd's program uses to read and write YAML (cloud-init user data,
 * Prometheus rule files, clouds.yaml, the test kit's Pulumi.yaml), and nothing else. The command
 * line, which edits stack files, imports yaml itself.
 *
 * In the npm package this module is a single file that `npm run build` bundles from yaml's ES
 * modules with only these parts (`scripts/bundle.ts`), loaded with the first document read or
 * written (see `config/lazy.ts`). From the sources (tests, tsx) it is this re-export of the yaml
 * package.
 */
export { LineCounter, parse, parseDocument, stringify } from "yaml";
