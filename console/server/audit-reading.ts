/**
 * The audit page's question to the registry's own audit store: the newest
 * entries in a time window, by partner and purpose. The store reads oldest
 * first, so the window is paged through and only the newest entries kept;
 * the window defaults to the last day so a query never reads a whole history.
 */
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AuditEntrySchema, type AuditEntry, type QueryAuditRequest } from "../../gen/imeifed/console/v1/console_pb.js";
import type { AuditLog } from "../../trust/audit/index.js";

/** Entries returned at most (newest first). */
export const AUDIT_ROWS = 500;
/** The window when the request names no start. */
export const DEFAULT_AUDIT_WINDOW_MS = 24 * 3600 * 1000;
/** Entries read per page from the store. */
const PAGE = 1000;

export async function readAudit(log: AuditLog, request: QueryAuditRequest, now = new Date()): Promise<{ entries: AuditEntry[]; truncated: boolean }> {
  const until = request.until ? timestampDate(request.until) : undefined;
  const since = request.since ? timestampDate(request.since) : new Date(now.getTime() - DEFAULT_AUDIT_WINDOW_MS);
  const purpose = request.purpose.trim().toLowerCase();
  const kept: AuditEntry[] = [];
  let matched = 0;
  let afterSeq = 0;
  for (;;) {
    const page = await log.query({ since, ...(until ? { until } : {}), ...(request.partner ? { requester: request.partner } : {}), limit: PAGE, afterSeq });
    for (const r of page) {
      if (purpose !== "" && !r.purpose.toLowerCase().includes(purpose)) continue;
      matched++;
      kept.push(
        create(AuditEntrySchema, {
          seq: BigInt(r.seq),
          at: timestampFromDate(r.at),
          principal: r.principal,
          actor: r.actor ?? "",
          purpose: r.purpose,
          method: r.method,
          deviceKey: r.deviceKey ?? "",
          batchSize: r.batchSize ?? 0,
          verdict: r.verdict,
          statusCode: r.statusCode,
        }),
      );
      if (kept.length > AUDIT_ROWS) kept.shift();
    }
    if (page.length < PAGE) break;
    afterSeq = page[page.length - 1]!.seq;
  }
  return { entries: kept.reverse(), truncated: matched > kept.length };
}
