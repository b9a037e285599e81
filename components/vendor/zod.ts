/**
 * The parts of zod that herd's stack-config schemas are built from, and nothing else.
 *
 * In the npm package this module is a single file that `npm run build` bundles from zod's own
 * modules with only these parts (`scripts/bundle.ts`): zod's entry loads about 95 files,
 * 64 of them translations of its messages, where the stack config needs the English ones. A program
 * checking its stack config then loads one file of about 200 KB instead. From the sources (tests,
 * tsx) it is this re-export of the zod package.
 */
export { array, boolean, enum, int, literal, number, record, strictObject, string, union, unknown } from "zod";
