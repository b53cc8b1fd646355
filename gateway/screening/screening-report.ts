/**
 * The screening report a customs officer keeps: every finding, with the
 * registries' attestations as evidence, written as it arrives (a report never
 * waits for the whole stream in memory). `.csv` gives one row per finding for a
 * spreadsheet; `.json` gives `{ "findings": [...], "summary": {...} }` in the
 * contract's JSON form, for machines.
 *
 * CSV cells from the manifest are exporter-supplied: a cell starting with
 * = + - @ is prefixed with ' so a spreadsheet shows it instead of running it
 * (OWASP CSV injection).
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";
import { extname } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import {
  ScreeningFindingSchema,
  ScreeningOutcome,
  ScreeningSummarySchema,
  type ScreeningFinding,
  type ScreeningSummary,
} from "../../gen/imeifed/v1/federation_pb.js";

/** Where findings go as they arrive. */
export interface ScreeningReport {
  finding(finding: ScreeningFinding): Promise<void>;
  /** Ends the report: with the summary, or with the error that cut the screening short. */
  close(end: { summary: ScreeningSummary } | { error: string }): Promise<void>;
}

/** The report formats, by file extension. */
export type ScreeningReportFormat = "csv" | "json";

/** The format a report path asks for, or undefined when its extension is neither .csv nor .json. */
export function reportFormatOf(path: string): ScreeningReportFormat | undefined {
  const ext = extname(path).toLowerCase();
  return ext === ".csv" ? "csv" : ext === ".json" ? "json" : undefined;
}

/** The CSV report's columns. */
export const REPORT_COLUMNS = [
  "item_index",
  "line_reference",
  "device_id",
  "outcome",
  "detail",
  "device_key",
  "declared_make",
  "declared_model",
  "registries",
  "attestations",
] as const;

function csvCell(value: string, fromManifest = false): string {
  const safe = fromManifest && /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The outcome's short name (PROHIBITED, DUPLICATE, ...). */
export function outcomeName(outcome: ScreeningOutcome): string {
  return ScreeningOutcome[outcome] ?? String(outcome);
}

function csvRow(f: ScreeningFinding): string {
  const listed = f.findings.filter((r) => r.finding).map((r) => `${r.finding!.country}:${DeviceStatus[r.finding!.status]}${r.stale ? " (stale)" : ""}`);
  const attestations = f.findings.map((r) => r.finding?.attestation ?? "").filter(Boolean);
  return (
    [
      String(f.itemIndex),
      csvCell(f.item?.lineReference ?? "", true),
      csvCell(f.item?.deviceId ?? "", true),
      outcomeName(f.outcome),
      csvCell(f.detail, true),
      f.device?.deviceKey ?? "",
      csvCell(f.item?.declaredMake ?? "", true),
      csvCell(f.item?.declaredModel ?? "", true),
      csvCell(listed.join(";")),
      csvCell(attestations.join(" ")),
    ].join(",") + "\n"
  );
}

async function write(out: WriteStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, "drain");
}

/** Opens a report file (created or truncated); the format follows the extension. */
export async function openScreeningReport(path: string, format: ScreeningReportFormat = reportFormatOf(path) ?? "csv"): Promise<ScreeningReport> {
  const out = createWriteStream(path, { flags: "w" });
  await Promise.race([once(out, "open"), once(out, "error").then(([e]) => Promise.reject(e))]);
  let first = true;
  if (format === "csv") await write(out, REPORT_COLUMNS.join(",") + "\n");
  else await write(out, '{\n"findings": [\n');
  const finish = async (text: string) => {
    out.end(text);
    await once(out, "finish");
  };
  return {
    async finding(finding) {
      if (format === "csv") return write(out, csvRow(finding));
      await write(out, (first ? "" : ",\n") + JSON.stringify(toJson(ScreeningFindingSchema, finding)));
      first = false;
    },
    async close(end) {
      if (format === "csv") return finish("");
      const tail = "summary" in end ? { summary: toJson(ScreeningSummarySchema, end.summary) } : { error: end.error };
      await finish(`\n],\n${JSON.stringify(tail).slice(1, -1)}\n}\n`);
    },
  };
}
