/**
 * The parts of zod that herd's stack-config schemas are built from, and nothing else: zod's
 * functional API (`zod/mini`), whose schemas keep their methods on a prototype. zod's chained API
 * gives every schema its own copy of about fifty methods, which made building herd's schemas
 * (about 10 ms of a program's first check) and loading zod (a file three times as large) most of
 * what a stack config cost to check. The parsing is zod's own either way, and so are its issues.
 *
 * English messages, which zod's chained API loads and `zod/mini` leaves to the caller, are set on
 * load: a key herd gives no text of its own (there are few) reads as it always did.
 *
 * In the npm package this module is a single file that `npm run build` bundles from zod's own
 * modules with only these parts (`scripts/bundle.ts`), loaded with the first schema built. From
 * the sources (tests, tsx) it is this re-export of the zod package.
 */
import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

config(en());

export {
    array,
    boolean,
    enum,
    gte,
    int,
    literal,
    lte,
    maxLength,
    minLength,
    number,
    optional,
    pipe,
    record,
    refine,
    regex,
    strictObject,
    string,
    transform,
    union,
    unknown,
} from "zod/mini";
