/**
 * Turns one registry change into the StolenEvent a manufacturer receives, or
 * into nothing: the safety rule (stolen-event-kind.ts) and the manufacturer's
 * TAC prefixes decide. The event carries the registry's attestation untouched;
 * its cursor is added by the consumer's feed, which alone knows its position
 * in the other registries.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StolenEventSchema } from "../../gen/imeifed/v1/federation_pb.js";
import type { Change } from "../../gen/imeifed/v1/registry_pb.js";
import { mask, parseDevice } from "../../device/index.js";
import { identityOf } from "../../device/device-identity.js";
import type { FollowLog } from "./registry-change-follower.js";
import { stolenEventIdOf, stolenEventKindOf } from "./stolen-event-kind.js";
import type { TacFilter } from "./tac-filter.js";

/** A StolenEvent as the handler writes it. */
export type StolenEventInit = MessageInitShape<typeof StolenEventSchema>;

/** A StolenEvent before its cursor is known: the same for every consumer of one manufacturer. */
export type StolenEventBody = Omit<StolenEventInit, "cursor" | "$typeName">;

/** The event `change` of `country` becomes for the manufacturer `tacFilter` describes; undefined when none. */
export function stolenEventOf(country: string, epoch: string, change: Change, tacFilter: TacFilter, log: FollowLog): StolenEventBody | undefined {
  const kind = stolenEventKindOf(change);
  if (kind === undefined || !tacFilter(change.deviceKey)) return undefined;
  const parsed = parseDevice(change.deviceKey, "device_key");
  if (!parsed.ok) {
    // A registry bug, not the manufacturer's: skip the change rather than end everyone's feed.
    log({ level: "warn", msg: "registry change with an invalid device key skipped", country, detail: `${mask(change.deviceKey)} at sequence ${change.sequence}` });
    return undefined;
  }
  return {
    eventId: stolenEventIdOf(country, epoch, change.sequence),
    kind,
    device: identityOf(parsed.device),
    country,
    ...(change.changedAt ? { changedAt: change.changedAt } : {}),
    attestation: change.attestation,
    ...(change.finding ? { finding: change.finding } : {}),
  };
}
