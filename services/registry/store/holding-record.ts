/**
 * Which open record decides a device's status: over its open records,
 * PROHIBITED wins over TRACKED (a block outranks recovery mode, as in CAMARA
 * where "prohibited wins"), and among equals the newest report holds.
 */
import { DeviceStatus } from "../../../gen/imeifed/v1/device_pb.js";
import type { StoredRecord } from "./registry-store.js";

type Ranked = Pick<StoredRecord, "id" | "status" | "reportedAt">;

/** True when `a` outranks `b` for holding a device. */
export function outranks(a: Ranked, b: Ranked): boolean {
  if (a.status !== b.status) return a.status === DeviceStatus.PROHIBITED;
  if (a.reportedAt !== b.reportedAt) return a.reportedAt > b.reportedAt;
  // Same instant: the later record (larger id) is the newer report.
  return BigInt(a.id) > BigInt(b.id);
}

/** The record that holds the device, or undefined when none is open (PERMITTED). */
export function holdingRecord<R extends Ranked>(open: Iterable<R>): R | undefined {
  let best: R | undefined;
  for (const record of open) if (best === undefined || outranks(record, best)) best = record;
  return best;
}

