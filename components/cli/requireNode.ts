import { nodeTooOld } from "./nodeVersion";

// Imported first by the CLI's entry module: on a Node.js too old for herd's dependencies, say
// which version is needed in one line, instead of the error the first of them would throw.
const tooOld = nodeTooOld();
if (tooOld !== undefined) {
    process.stderr.write(`${tooOld}\n`);
    process.exit(1);
}
