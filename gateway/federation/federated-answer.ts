/**
 * What the single upstream path answers for one device: the findings of every
 * registry that lists it, the registries that did not answer and why, and how
 * much of it came from the gateway's cache.
 */
import type { DeviceKey } from "../../device/index.js";
import type { RegistryFinding, Unanswered } from "../../gen/imeifed/v1/federation_pb.js";
import type { Actor } from "../../trust/principal.js";

/** How one device is asked about: where, until when, for whom and why. */
export interface CheckOptions {
  /** ISO 3166-1 alpha-2 codes (upper case); absent or empty asks every registry. */
  countries?: string[];
  /** The caller's deadline; every upstream call ends before it (less the margin). */
  deadline: Date;
  /** The real requester: upstream calls carry it in the `act` claim, and registries apply their sharing policy to it. */
  requester: Actor;
  /** The case or declaration reference, passed to the registries' audit. */
  purpose: string;
}

/** The federated answer for one device, before the verdict is drawn. */
export interface FederatedAnswer {
  key: DeviceKey;
  /** One per registry that lists the device (fresh, cached, or stale when its registry could not be asked). */
  findings: RegistryFinding[];
  /** The asked registries that did not answer. */
  unanswered: Unanswered[];
  /** True when every answer came from the cache. */
  fromCache: boolean;
  /** The age of the oldest answer used, in milliseconds (0 when all were fresh). */
  ageMs: number;
}
