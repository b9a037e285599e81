import type { z } from "zod/mini";
import { lazy } from "../config/lazy";
import { containerReleaseSchema, fleetSchemaOf, port, rolloutSchemaOf, zod } from "../config/schema";

/** What a Docker fleet is in the stack config (`backend: docker` under `herd:fleets`): the schema the fleet registry validates it with. */

/**
 * The most members one Docker fleet may have: 100. One Docker engine on one host runs them all,
 * each with its own limits (256 MB by default: 100 members already want 25 GB).
 */
export const DOCKER_MAX_SIZE = 100;

/** A Docker fleet in the stack config (`backend: docker`): what its `config.ts` turns into `DockerWorkloadArgs`. */
export const dockerFleetSchema = lazy(() =>
    fleetSchemaOf("docker", DOCKER_MAX_SIZE, {
        release: containerReleaseSchema,
        rollout: zod.optional(rolloutSchemaOf(containerReleaseSchema)),
        hostPort: zod.optional(port),
    }),
);

/**
 * A Docker fleet as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type DockerFleetConfig = z.infer<typeof dockerFleetSchema>;
