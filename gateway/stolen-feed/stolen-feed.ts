/**
 * One manufacturer's stolen feed: every registry's changes, followed from the
 * manufacturer's cursor, merged, filtered down to the verified changes of the
 * manufacturer's own devices, and turned into StolenEvents that each carry the
 * owning registry's attestation untouched and a cursor covering every
 * registry's position. Nothing is kept on the gateway between connections.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StolenEventSchema } from "../../gen/imeifed/v1/federation_pb.js";
import { parseDevice, mask } from "../../device/index.js";
import { encodeFeedCursor, type FeedCursor, type RegistryPosition } from "./feed-cursor.js";
import { mergeStreams } from "./merge-streams.js";
import { followRegistryChanges, type ChangeSource, type FollowBackoff, type FollowLog } from "./registry-change-follower.js";
import { stolenEventIdOf, stolenEventKindOf } from "./stolen-event-kind.js";
import type { TacFilter } from "./tac-filter.js";
import { identityOf } from "../../device/device-identity.js";

/** A StolenEvent as the handler writes it. */
export type StolenEventInit = MessageInitShape<typeof StolenEventSchema>;

export interface StolenFeedOptions {
  /** Every registry of the federation, each already authorised to act for this manufacturer. */
  readonly sources: readonly ChangeSource[];
  /** Where the manufacturer stopped (empty map: from the beginning). */
  readonly from: FeedCursor;
  /** The manufacturer's devices. */
  readonly tacFilter: TacFilter;
  /** Ends the feed and every upstream stream. */
  readonly signal: AbortSignal;
  readonly backoff?: FollowBackoff;
  readonly log?: FollowLog;
}

const START: RegistryPosition = { epoch: "", seq: 0n };

/**
 * Yields the manufacturer's events until `signal` aborts. Delivery is at least
 * once: each event's cursor covers every change handled before it (including
 * the ones filtered out), so reconnecting with it resumes right after it.
 */
export async function* stolenFeed(options: StolenFeedOptions): AsyncGenerator<StolenEventInit, void, undefined> {
  const { signal, tacFilter } = options;
  const log = options.log ?? (() => {});
  // Registries in the cursor that this gateway does not follow (removed from its config) keep their positions.
  const positions = new Map<string, RegistryPosition>(options.from);
  const followers = options.sources.map((source) =>
    followRegistryChanges(source, positions.get(source.country) ?? START, {
      signal,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      log,
    }),
  );
  for await (const item of mergeStreams(followers)) {
    if (signal.aborted) return;
    if (item.type === "reset") {
      positions.set(item.country, item.position);
      log({ level: "warn", msg: "registry sequences restarted; replaying it from sequence 0", country: item.country, detail: item.detail });
      continue;
    }
    if (item.type === "caught-up") continue;
    const { country, epoch, change } = item;
    positions.set(country, { epoch, seq: change.sequence });
    const kind = stolenEventKindOf(change);
    if (kind === undefined || !tacFilter(change.deviceKey)) continue;
    const parsed = parseDevice(change.deviceKey, "device_key");
    if (!parsed.ok) {
      // A registry bug, not the manufacturer's: skip the change rather than end everyone's feed.
      log({ level: "warn", msg: "registry change with an invalid device key skipped", country, detail: `${mask(change.deviceKey)} at sequence ${change.sequence}` });
      continue;
    }
    const device = parsed.device;
    yield {
      eventId: stolenEventIdOf(country, epoch, change.sequence),
      kind,
      device: identityOf(device),
      country,
      ...(change.changedAt ? { changedAt: change.changedAt } : {}),
      attestation: change.attestation,
      cursor: encodeFeedCursor(positions),
      ...(change.finding ? { finding: change.finding } : {}),
    };
  }
}
