/**
 * The reports an agency made through this console since it started, newest
 * first, so an officer sees what they filed and can clear it. The registry
 * keeps the records; this list is only the console's memory of its own
 * calls, bounded per agency.
 */
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { FiledReportSchema, type FiledReport } from "../../gen/imeifed/console/v1/console_pb.js";
import type { ClearReason } from "../../gen/imeifed/v1/device_pb.js";
import { parseDevice } from "../../device/index.js";

/** Reports remembered per agency; the oldest is forgotten first. */
export const FILED_REPORTS_PER_AGENCY = 200;

function keyOf(imei: string): string {
  const parsed = parseDevice(imei, "imei");
  return parsed.ok ? parsed.device.key : imei;
}

export class FiledReports {
  readonly #byAgency = new Map<string, FiledReport[]>();

  add(agency: string, report: Omit<FiledReport, "$typeName" | "filedAt" | "clearedAt" | "clearReason" | "agency">): void {
    const list = this.#byAgency.get(agency) ?? [];
    const sameCase = (r: FiledReport) => r.caseReference === report.caseReference && r.imeis.map(keyOf).join() === report.imeis.map(keyOf).join();
    const kept = list.filter((r) => !sameCase(r));
    kept.unshift(create(FiledReportSchema, { ...report, agency, filedAt: timestampNow() }));
    this.#byAgency.set(agency, kept.slice(0, FILED_REPORTS_PER_AGENCY));
  }

  cleared(agency: string, imei: string, caseReference: string, reason: ClearReason): void {
    const key = keyOf(imei);
    for (const r of this.#byAgency.get(agency) ?? []) {
      if (r.clearedAt || !r.imeis.some((i) => keyOf(i) === key)) continue;
      if (caseReference !== "" && r.caseReference !== caseReference) continue;
      r.clearedAt = timestampNow();
      r.clearReason = reason;
    }
  }

  list(agency: string): FiledReport[] {
    return [...(this.#byAgency.get(agency) ?? [])];
  }
}
