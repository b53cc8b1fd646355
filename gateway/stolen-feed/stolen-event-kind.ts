/**
 * Which registry changes a manufacturer must act on, and how. This is the
 * safety rule of stolen mode: a phone is only ever switched into stolen mode on
 * a theft that law enforcement verified, and every switch can be undone.
 *
 * A device's "stolen-mode state" in one registry, as a manufacturer sees it:
 *   STOLEN  — the registry holds it PROHIBITED under a verified report;
 *   TRACKED — the registry holds it TRACKED under a verified report;
 *   NORMAL  — anything else (permitted, or held only by unverified reports).
 *
 * Mapping of one Change (its `verified` flag is the changed record's, its
 * `status` and `finding` are the device's after the change):
 *   REPORTED, record verified, state after STOLEN   -> STOLEN_VERIFIED
 *   REPORTED, record verified, state after TRACKED  -> TRACKED
 *   CLEARED,  record verified, state after NORMAL   -> CLEARED
 *   CLEARED,  record verified, state after TRACKED  -> TRACKED (stolen -> recovery mode)
 *   anything else                                   -> no event
 * So an unverified report never produces an event, and neither does its
 * clearing. CLEARED is sent for every clearing of a verified record that leaves
 * the device NORMAL, whether or not this manufacturer was told about the
 * device before: the feed keeps no per-manufacturer state (the cursor is all of
 * it), and leaving stolen mode is a no-op for a device that was never in it.
 */
import { ChangeKind, type Change } from "../../gen/imeifed/v1/registry_pb.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { StolenEventKind } from "../../gen/imeifed/v1/federation_pb.js";

type StolenModeState = "STOLEN" | "TRACKED" | "NORMAL";

function stateAfter(change: Change): StolenModeState {
  const verifiedHold = change.finding?.verified === true;
  if (change.status === DeviceStatus.PROHIBITED && verifiedHold) return "STOLEN";
  if (change.status === DeviceStatus.TRACKED && verifiedHold) return "TRACKED";
  return "NORMAL";
}

/** The event a change becomes for a manufacturer, or undefined when it must not reach one. */
export function stolenEventKindOf(change: Change): StolenEventKind | undefined {
  // A change of an unverified record never reaches a manufacturer, in either direction.
  if (!change.verified) return undefined;
  const state = stateAfter(change);
  switch (change.kind) {
    case ChangeKind.REPORTED:
      if (state === "STOLEN") return StolenEventKind.STOLEN_VERIFIED;
      if (state === "TRACKED") return StolenEventKind.TRACKED;
      return undefined;
    case ChangeKind.CLEARED:
      if (state === "NORMAL") return StolenEventKind.CLEARED;
      if (state === "TRACKED") return StolenEventKind.TRACKED;
      // Still held by another verified PROHIBITED report: the device stays in stolen mode.
      return undefined;
    default:
      return undefined;
  }
}

/** The event id: unique per registry change and stable across redeliveries, so consumers drop repeats by it. */
export function stolenEventIdOf(country: string, epoch: string, sequence: bigint): string {
  return `${country}:${epoch}:${sequence.toString()}`;
}
