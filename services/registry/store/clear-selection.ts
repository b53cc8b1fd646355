/**
 * Which records a ClearDevice call may clear, decided the same way by both
 * stores. Only the reporting agency, or this registry's administrator, may
 * clear a record (as in the GSMA registry); a refusal never says whether other
 * agencies hold the device.
 */
import { Code, ImeifedError, quote, type Reason } from "../../../errors/index.js";
import { mask } from "../../../device/index.js";
import { DeviceStatus } from "../../../gen/imeifed/v1/device_pb.js";
import { holdingRecord } from "./holding-record.js";
import type { ClearInput, ClearOutcome, StoredRecord } from "./registry-store.js";

export type ClearSelection =
  /** Open records to clear now. */
  | { readonly kind: "clear"; readonly records: StoredRecord[] }
  /** Nothing open matched, but an earlier identical clearing did: answer as it did. */
  | { readonly kind: "replay"; readonly records: StoredRecord[] };

/** Chooses among all records of the device (open and cleared) or throws the refusal. */
export function selectClearable(all: readonly StoredRecord[], input: ClearInput): ClearSelection {
  const mine = all.filter(
    (r) => (input.isAdmin || r.agency === input.requester) && (input.caseReference === "" || r.caseReference === input.caseReference),
  );
  const open = mine.filter((r) => r.cleared === undefined);
  if (open.length > 0) return { kind: "clear", records: open };
  // A retried clearing (its response was lost) answers like the first one did.
  const replay = mine.filter((r) => r.cleared?.by === input.requester && r.cleared.reason === input.reason);
  if (replay.length > 0) return { kind: "replay", records: replay };
  const which = input.caseReference === "" ? "" : ` under case reference ${quote(input.caseReference)}`;
  if (!input.isAdmin) {
    return refuse(
      Code.PERMISSION_DENIED,
      "NOT_YOUR_RECORD",
      `you hold no open record of device ${mask(input.deviceKey)}${which}; only the reporting agency or this registry's administrator may clear a record`,
    );
  }
  return refuse(Code.FAILED_PRECONDITION, "NOT_LISTED", `device ${mask(input.deviceKey)} has no open record${which}; there is nothing to clear`);
}

/** What a replayed clearing answers: the records it cleared then, the device's status now, the sequence it was written at. */
export function replayedClearing(all: readonly StoredRecord[], replayed: readonly StoredRecord[]): ClearOutcome & { wrote: false } {
  const open = all.filter((r) => r.cleared === undefined);
  const sequence = Math.max(...replayed.map((r) => r.cleared?.seq ?? 0));
  return { cleared: [...replayed], status: holdingRecord(open)?.status ?? DeviceStatus.PERMITTED, sequence, wrote: false };
}

function refuse(code: Code, reason: Reason, message: string): never {
  throw new ImeifedError(code, reason, message);
}
