/**
 * The refusal of a report whose (agency, case, device) was already cleared:
 * history is never deleted or rewritten, so a new theft of a recovered device
 * needs a new case reference.
 */
import { Code, ImeifedError, quote } from "../../../errors/index.js";
import { mask } from "../../../device/index.js";
import type { StoredRecord } from "./registry-store.js";

/** FAILED_PRECONDITION naming the case, the device (masked) and, for imports, the line. */
export function caseClearedError(record: StoredRecord, line?: number): ImeifedError {
  const where = line === undefined ? "" : `line ${line}: `;
  const when = record.cleared ? ` on ${new Date(record.cleared.at).toISOString()}` : "";
  return new ImeifedError(
    Code.FAILED_PRECONDITION,
    "CASE_CLEARED",
    `${where}case reference ${quote(record.caseReference)} for device ${mask(record.deviceKey)} was cleared${when}; ` +
      "history is never rewritten, so report it again under a new case reference",
  );
}
