/**
 * What every FederationService handler is built from: the config, one link per
 * upstream registry, the single upstream path (FederationChecker), the token
 * minter and the optional pieces other modules supply (TAC data, tripwire,
 * audit, metrics). Handlers get this and nothing else, so a handler never
 * opens its own connections or reads config files.
 */
import type { DeviceKey } from "../device/index.js";
import type { RegistryFinding } from "../gen/imeifed/v1/federation_pb.js";
import type { SightingKind } from "../gen/imeifed/v1/registry_pb.js";
import type { AuditLog } from "../trust/audit/index.js";
import type { Actor } from "../trust/principal.js";
import type { GatewayConfig } from "./config.js";
import type { FederationChecker } from "./federation/federation-checker.js";
import type { RegistryLink } from "./upstream/registry-link.js";

import type { GatewayMetrics } from "./gateway-metrics.js";
import type { UpstreamTokenMinter } from "./upstream/registry-link.js";

export type { GatewayMetrics, UpstreamTokenMinter };

/** Make and model per TAC (device/tac-database.ts's TacDatabase fits it). */
export interface TacLookup {
  lookup(tac: string): { make: string; model: string } | undefined;
}

/** One hit a foreign partner got: the owning registries are told (issue 7's tripwire). */
export interface TripwireHit {
  key: DeviceKey;
  /** The findings the requester was given (one per owning registry). */
  findings: readonly RegistryFinding[];
  requester: Actor;
  kind: SightingKind;
  purpose: string;
  /** This hit's repeat window, instead of the tripwire's (a network operator's `sightingWindow`). */
  repeatWindowMs?: number;
  /**
   * Sent to the requester's own country's registry too: a phone attaching to a
   * network at home is news to the registry that lists it, where a home
   * agency's own lookup is not.
   */
  atHome?: boolean;
}

/** Tells owning registries where their listed devices surfaced; never throws and never delays an answer. */
export interface Tripwire {
  hit(hit: TripwireHit): void;
}

/** Everything a FederationService handler factory receives. */
export interface GatewayContext {
  readonly config: GatewayConfig;
  /** One per configured upstream, in config order. */
  readonly links: readonly RegistryLink[];
  /** The link answering for a country (a registry's own, or a hub federating it); undefined when none does. */
  linkFor(country: string): RegistryLink | undefined;
  /** The single upstream path: Lookup, Screen and ReportFound all ask through it. */
  readonly checker: FederationChecker;
  readonly minter: UpstreamTokenMinter;
  /** The gateway's audit log (the audit interceptor writes to it; handlers fill AUDIT_DETAILS). */
  readonly audit?: AuditLog;
  readonly tac?: TacLookup;
  readonly tripwire?: Tripwire;
  readonly metrics?: GatewayMetrics;
  /**
   * A registry's change-log head (epoch and last sequence) as the cache's change follower has it, while that
   * follower is caught up; undefined otherwise. A new stolen feed starts there, without asking the registry.
   */
  readonly changeHead?: (country: string) => { epoch: string; seq: bigint } | undefined;
  /** The per-principal quotas (trust/quota.ts's QuotaLimiter); Screen counts devices against it. */
  readonly quota?: { takeDevices(principalId: string, n: number): void };
}
