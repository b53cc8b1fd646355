/**
 * The S13 front as the gateway starts it: the Diameter peer of s13-server.ts
 * answering ME-Identity-Check on the gateway's own equipment check. Every
 * configured peer must name an `operator` principal of the trust file, or the
 * gateway does not start.
 */
import { Code, ImeifedError } from "../../errors/index.js";
import type { Logger } from "../../observability/logger.js";
import type { TrustStore } from "../../trust/trust-store.js";
import { EquipmentCheck, type EquipmentCheckOptions } from "../equipment-check.js";
import type { LocalIdentity } from "./answers.js";
import { S13_FRONT, meIdentityCheckHandler, type MeIdentityCheckOptions } from "./me-identity-check.js";
import { PeerTable } from "./peer-table.js";
import type { S13Config } from "./s13-config.js";
import { startS13Server, type RunningS13Server } from "./s13-server.js";

export interface S13FrontOptions {
  readonly config: S13Config;
  readonly trust: Pick<TrustStore, "principal">;
  /** The gateway's checker, tripwire, audit and id (networks/equipment-check.ts). */
  readonly equipment: Omit<EquipmentCheckOptions, "front">;
  /** The gateway's admission and quotas, counted per operator principal as on every other front. */
  readonly admission: MeIdentityCheckOptions["admission"];
  readonly quota?: MeIdentityCheckOptions["quota"];
  readonly log: Logger;
}

export async function startS13Front(options: S13FrontOptions): Promise<RunningS13Server> {
  const { config, trust } = options;
  config.peers.forEach((peer, i) => {
    const principal = trust.principal(peer.principal);
    if (!principal || principal.kind !== "operator") {
      throw new ImeifedError(Code.FAILED_PRECONDITION, "BAD_CONFIG", `networks.s13.peers[${i}].principal: ${peer.principal} is not an operator principal of the trust file`);
    }
  });
  const identity: LocalIdentity = {
    originHost: config.originHost,
    originRealm: config.originRealm,
    productName: config.productName,
    // RFC 6733 §8.16: a value that grows with each restart; seconds since the epoch do.
    originStateId: Math.floor(Date.now() / 1000) >>> 0,
  };
  const onUnknownOf = new Map(config.peers.flatMap((p) => (p.onUnknown ? [[p.principal, p.onUnknown] as const] : [])));
  const log = options.log.child({ component: "s13" });
  return startS13Server({
    listen: config.listen,
    ...(config.tls ? { tls: config.tls } : {}),
    identity,
    peers: new PeerTable(config.peers),
    limits: {
      maxConnections: config.limits.maxConnections,
      maxInFlight: config.limits.maxInFlightPerConnection,
      maxMessageBytes: config.limits.maxMessageBytes,
      watchdogMs: config.limits.watchdogMs,
      capabilitiesTimeoutMs: config.limits.capabilitiesTimeoutMs,
    },
    meIdentityCheck: meIdentityCheckHandler({
      identity,
      check: new EquipmentCheck({ ...options.equipment, front: S13_FRONT }),
      policy: config,
      onUnknown: (principal) => onUnknownOf.get(principal) ?? config.onUnknown,
      principal: (id) => trust.principal(id),
      admission: options.admission,
      quota: options.quota,
      log,
    }),
    log,
  });
}
