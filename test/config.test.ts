import { expect } from "chai";
import { ConfigError } from "../components/config";
import { parseFleets } from "../components/fleet";
import { resolveFleets, resolveStack, type SettingsOf } from "../components/fleet";
import { ProgramError } from "../components/testing";
import { PROJECT_DIR, rejectionOf, runStack, stackConfig } from "./helpers/project";

const release = { image: "debian-12", flavor: "b3-8", network: "ext-net" };
const base = { backend: "openstack", size: 3, release };

/** Builds `herd:fleets` with one fleet `web`. */
const withWeb = (web: unknown) => ({ web });

const badConfigs: { case: string; fleets: unknown; line: string }[] = [
    {
        case: "unknown backend",
        fleets: withWeb({ ...base, backend: "vmware" }),
        line: 'herd:fleets.web.backend = "vmware": expected a backend, one of openstack | kubernetes | docker',
    },
    {
        case: "negative size",
        fleets: withWeb({ ...base, size: -1 }),
        line: "herd:fleets.web.size = -1: expected a whole number ≥ 0",
    },
    {
        case: "fractional size",
        fleets: withWeb({ ...base, size: 2.5 }),
        line: "herd:fleets.web.size = 2.5: expected a whole number ≥ 0",
    },
    {
        case: "size given as a string",
        fleets: withWeb({ ...base, size: "3" }),
        line: 'herd:fleets.web.size = "3": expected a whole number ≥ 0',
    },
    {
        case: "missing release",
        fleets: withWeb({ backend: "openstack", size: 3 }),
        line: "herd:fleets.web.release is missing: required, an object with keys image, flavor, network, networks, keyPair, securityGroups, userData",
    },
    {
        case: "missing release.image",
        fleets: withWeb({ ...base, release: { flavor: "b3-8", network: "ext-net" } }),
        line: "herd:fleets.web.release.image is missing: required, an image ID (preferred) or name",
    },
    {
        case: "rollout.members greater than size",
        fleets: withWeb({ ...base, rollout: { previous: release, members: 4 } }),
        line: "herd:fleets.web.rollout.members = 4: expected a whole number from 0 to size (3)",
    },
    {
        case: "typo in a key",
        fleets: withWeb({ backend: "openstack", szie: 3, size: 3, release }),
        line: 'herd:fleets.web.szie = 3: unknown key; did you mean "size"? allowed keys: backend, size, update, spread, health, alerts, robot, gate, probes, release, rollout, loadBalancer, ingress, volume',
    },
    {
        case: "update.batch below 1",
        fleets: withWeb({ ...base, update: { batch: 0 } }),
        line: "herd:fleets.web.update.batch = 0: expected a whole number ≥ 1",
    },
    {
        case: "rollout without previous while members < size",
        fleets: withWeb({ ...base, rollout: { members: 1 } }),
        line: "herd:fleets.web.rollout.previous is missing: required, the release that slots 1–2 still run while rollout.members (1) < size (3)",
    },
    {
        case: "load balancer without health check",
        fleets: withWeb({ ...base, loadBalancer: { port: 80 } }),
        line: "herd:fleets.web.health is missing: required, { path, port } (HTTP) or { port } (TCP) when loadBalancer is set: traffic goes only to members that pass it",
    },
    {
        case: "unknown update order",
        fleets: withWeb({ ...base, update: { order: "yolo" } }),
        line: 'herd:fleets.web.update.order = "yolo": expected create-before-delete | delete-before-create',
    },
    {
        case: "fleet name not usable in cloud-side names",
        fleets: { Web_1: base },
        line: 'herd:fleets.Web_1 = "Web_1": expected a fleet name: lowercase letters, digits and \'-\', starting with a letter, at most 30 characters',
    },
    {
        case: "no network",
        fleets: withWeb({ ...base, release: { image: "debian-12", flavor: "b3-8" } }),
        line: "herd:fleets.web.release.network is missing: required, a network name or ID (or `networks`, a list) for the members' ports",
    },
];

describe("stack config validation", () => {
    for (const bad of badConfigs) {
        it(`rejects ${bad.case} with one message naming the stack, key path, value and what is allowed`, () => {
            let error: unknown;
            try {
                parseFleets(bad.fleets, "prod");
            } catch (err) {
                error = err;
            }
            expect(error).to.be.instanceOf(ConfigError);
            const message = (error as ConfigError).message;
            expect(message.split("\n")[0]).to.equal('Invalid herd config in stack "prod" (Pulumi.prod.yaml), 1 problem:');
            expect(message.split("\n").slice(1)).to.deep.equal([`  - ${bad.line}`]);
        });
    }

    it("reports every problem of a config at once", () => {
        const error = (() => {
            try {
                parseFleets({ web: { ...base, size: -1, update: { batch: 0 } }, api: { ...base, backend: "nope" } }, "dev");
            } catch (err) {
                return err as ConfigError;
            }
            throw new Error("no error");
        })();
        expect(error.problems.map((p) => p.path.join("."))).to.deep.equal([
            "herd:fleets.web.size",
            "herd:fleets.web.update.batch",
            "herd:fleets.api.backend",
        ]);
    });

    it("rejects a missing herd:fleets key", () => {
        expect(() => parseFleets(undefined, "dev")).to.throw(
            ConfigError,
            "herd:fleets is missing: required, a map of fleet name → fleet ({ backend, size, release, … })",
        );
    });

    it("rejects a user data file that does not exist, naming the key and the path", () => {
        const fleets = withWeb({ ...base, release: { ...release, userData: "cloud-init/nope.yaml" } });
        expect(() => resolveFleets(fleets, { stack: "dev", projectDir: PROJECT_DIR })).to.throw(
            ConfigError,
            'herd:fleets.web.release.userData = "cloud-init/nope.yaml": expected a #cloud-config file relative to the project directory',
        );
    });

    it("rejects user data that is not a #cloud-config document", () => {
        const fleets = withWeb({ ...base, release: { ...release, userData: "web.sh" } });
        const readFile = () => "#!/bin/sh\necho hi\n";
        expect(() => resolveFleets(fleets, { stack: "dev", projectDir: "/p", readFile })).to.throw(
            ConfigError,
            'herd:fleets.web.release.userData = "web.sh": expected a #cloud-config file; this one must start with a "#cloud-config" line; its first line is something else (9 characters)',
        );
    });

    it("accepts the real stack files", () => {
        for (const stack of ["dev", "prod"]) {
            const fleets = parseFleets(stackConfig(stack)["herd:fleets"], stack);
            expect(Object.keys(fleets)).to.not.be.empty;
        }
    });

    describe("through the program", () => {
        for (const bad of badConfigs.filter((b) => ["unknown backend", "negative size", "typo in a key", "update.batch below 1"].includes(b.case))) {
            it(`fails before registering any resource: ${bad.case}`, async () => {
                const config = { ...stackConfig("prod"), "herd:fleets": bad.fleets };
                const error = await rejectionOf(runStack("prod", config));
                expect(error).to.be.instanceOf(ProgramError);
                expect(error.message).to.contain(bad.line);
                expect((error as ProgramError).resources).to.have.length(0);
            });
        }

        it("fails before registering anything when one fleet of several is wrong", async () => {
            const config = stackConfig("prod");
            const fleets = config["herd:fleets"] as Record<string, Record<string, unknown>>;
            fleets.worker.size = -2;
            const error = await rejectionOf(runStack("prod", config));
            expect(error.message).to.contain("herd:fleets.worker.size = -2: expected a whole number ≥ 0");
            expect((error as ProgramError).resources).to.have.length(0);
        });
    });
});

describe("each backend's stack-wide key, herd:<backend>", () => {
    it("is validated by its backend's schema and returned typed as that backend's settings", () => {
        const stack = resolveStack({ fleets: {}, openstack: { computeHosts: 3 }, kubernetes: { context: "kind-herd", namespace: "apps" } }, { stack: "dev", projectDir: PROJECT_DIR });
        // Typed per backend (a property of `never` would not compile).
        const hosts: number | undefined = stack.openstack?.computeHosts;
        const context: string | undefined = stack.kubernetes?.context;
        expect({ hosts, context }).to.deep.equal({ hosts: 3, context: "kind-herd" });
        // @ts-expect-error a key herd:openstack does not have
        const wrong: SettingsOf<"openstack"> = { hosts: 3 };
        expect(wrong).to.be.an("object");
        expect(() => resolveStack({ fleets: {}, openstack: { computeHost: 3 } }, { stack: "dev", projectDir: PROJECT_DIR })).to.throw(
            'herd:openstack.computeHost = 3: unknown key; did you mean "computeHosts"?',
        );
    });
});
