import { expect } from "chai";
import * as herd from "../../components";

/**
 * The package root (`pulumi-herd`) is a deliberate public API: what a program, a component
 * package or a test builds on. Whatever it exports, users import, and then it cannot change
 * without breaking them; so the exact list of runtime names is written down here, and adding or
 * removing one is a change to this list too, made on purpose. Internals (spec builders, schema
 * pieces, grammar and file readers, the command line's parsers) stay out of the root, free to
 * change; the test kit is `pulumi-herd/testing`. Types leave no runtime name: TypeDoc
 * (`scripts/docs.sh`) checks that every type the API uses is exported.
 */
const RUNTIME_NAMES = [
    "ConfigError",
    "DEFAULT_PROBE_IMAGE",
    "DEFAULT_WAVES",
    "DockerWorkload",
    "FLEET_BACKENDS",
    "GENERATION_LENGTH",
    "HERD_LABELS",
    "KubernetesMonitoring",
    "KubernetesWorkload",
    "Probe",
    "STORED_CONFIG_VARIABLE",
    "ServerGroup",
    "alertRuleFile",
    "assignSlots",
    "buildFleet",
    "defaultAlerts",
    "generationOf",
    "isPulumiSecretKey",
    "kubernetesMembersUp",
    "nextWave",
    "parseFleets",
    "parseRollouts",
    "planMembers",
    "releaseFromStack",
    "releaseGeneration",
    "resolveFleets",
    "resolveStack",
    "ruleFile",
    "scrapePort",
    "secretMarker",
    "stackProgram",
    "storedStackConfig",
    "waveSchedule",
];

/** Internals that the root once exported with `export *`, a few of each kind. */
const INTERNALS = [
    "readProjectFile", // file reader
    "readStackConfig", // file reader
    "buildPodSpec", // spec builder
    "buildDeploymentSpec", // spec builder
    "instanceInputs", // spec builder
    "canonicalJson", // release hashing helper
    "formatKeyPath", // message helper
    "fleetsSchema", // schema piece
    "checkFleets", // validation step
    "parseStackFile", // the command line's parser
    "markSecrets", // secret handling inside resolveStack
];

describe("the package root's public API", () => {
    it("exports exactly the listed runtime names", () => {
        expect(Object.keys(herd).sort()).to.deep.equal([...RUNTIME_NAMES].sort());
    });

    it("exports none of herd's internals", () => {
        const exported = new Set(Object.keys(herd));
        expect(INTERNALS.filter((name) => exported.has(name))).to.deep.equal([]);
    });
});
