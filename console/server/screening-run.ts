/**
 * A manifest uploaded to the console, screened server-side through the
 * gateway's Screen stream (browsers cannot open a bidirectional gRPC stream):
 * the upload is checked whole and read by the one manifest reader (manifest/,
 * as `imeifed screen` reads a file: CSV or xlsx), every finding goes to a CSV
 * and a JSON report on disk, and the page gets progress (items per second,
 * time left), the first findings and the result as a server stream.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { ScreenProgressSchema, ScreenResponseSchema, type ScreenResponse } from "../../gen/imeifed/console/v1/console_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { type ScreenRequestSchema, type ScreeningSummary, type Shipment } from "../../gen/imeifed/v1/federation_pb.js";
import { checkManifest, manifestBytes, manifestItemsOf, readManifest } from "../../manifest/index.js";
import { openScreeningReport } from "../../gateway/screening/screening-report.js";
import type { ActingPrincipal } from "./acting-principals.js";

/** Items per message to the gateway, as `imeifed screen` sends by default. */
const BATCH_SIZE = 1000;
/** Findings streamed to the page; the rest are only in the report (a table of millions helps no one). */
export const FINDINGS_STREAMED_LIMIT = 5000;
/** How often progress is sent to the page at most. */
const PROGRESS_INTERVAL_MS = 250;

/** A finished screening's report files. */
export interface FinishedScreening {
  readonly id: string;
  readonly dir: string;
  readonly csvPath: string;
  readonly jsonPath: string;
  readonly principal: ActingPrincipal;
  readonly summary: ScreeningSummary;
}

/**
 * Screens one manifest, yielding what the page is streamed. The reports stay
 * in `workDir/<id>/` for `onFinished` to keep (or remove).
 */
export async function* screenManifest(options: {
  manifest: Uint8Array;
  fileName: string;
  shipment: Shipment;
  principal: ActingPrincipal;
  workDir: string;
  id: string;
  signal: AbortSignal;
  onFinished: (screening: FinishedScreening) => void;
}): AsyncGenerator<ScreenResponse> {
  // Checked whole before anything is screened: customs must not act on half a manifest.
  // The name as the officer knows it (messages show it), without a path or control characters.
  const name = (options.fileName.split(/[\\/]/).pop() ?? "").replace(/[\u0000-\u001f\u007f]/g, "").slice(0, 100) || "manifest";
  const source = manifestBytes(name, options.manifest);
  const checked = await checkManifest(source);
  const total = checked.imeis;
  const dir = await mkdtemp(join(options.workDir, `${options.id}-`));
  let kept = false;
  try {
    const shipment = options.shipment;
    async function* requests(): AsyncGenerator<MessageInitShape<typeof ScreenRequestSchema>> {
      yield { message: { case: "shipment", value: shipment } };
      for await (const devices of readManifest(source, { batchSize: BATCH_SIZE })) yield { message: { case: "items", value: { items: manifestItemsOf(devices) } } };
    }
    const csvPath = join(dir, "report.csv");
    const jsonPath = join(dir, "report.json");
    const csv = await openScreeningReport(csvPath, "csv");
    const json = await openScreeningReport(jsonPath, "json");
    const started = Date.now();
    let lastProgress = 0;
    let findings = 0n;
    let streamed = 0;
    let summary: ScreeningSummary | undefined;
    const progress = (screened: bigint) => {
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      const rate = Number(screened) / seconds;
      const left = Math.max(0, total - Number(screened));
      return create(ScreenResponseSchema, {
        message: {
          case: "progress",
          value: create(ScreenProgressSchema, { itemsScreened: screened, itemsTotal: BigInt(total), findings, itemsPerSecond: rate, secondsLeft: rate > 0 ? left / rate : 0 }),
        },
      });
    };
    try {
      for await (const response of options.principal.gateway.screen(requests(), { signal: options.signal })) {
        const message = response.message;
        if (message.case === "finding") {
          findings++;
          await csv.finding(message.value);
          await json.finding(message.value);
          if (streamed < FINDINGS_STREAMED_LIMIT) {
            streamed++;
            yield create(ScreenResponseSchema, { message: { case: "finding", value: message.value } });
          }
        } else if (message.case === "progress") {
          const now = Date.now();
          if (now - lastProgress >= PROGRESS_INTERVAL_MS) {
            lastProgress = now;
            yield progress(message.value.itemsScreened);
          }
        } else if (message.case === "summary") {
          summary = message.value;
        }
      }
      if (!summary) throw new ImeifedError(Code.UNAVAILABLE, "NO_SUMMARY", "the gateway ended the screening without a summary; screen again");
    } catch (error) {
      const cause = error;
      await csv.close({ error: (cause as Error)?.message ?? String(cause) });
      await json.close({ error: (cause as Error)?.message ?? String(cause) });
      throw cause;
    }
    await csv.close({ summary });
    await json.close({ summary });
    yield progress(summary.itemsScreened);
    options.onFinished({ id: options.id, dir, csvPath, jsonPath, principal: options.principal, summary });
    kept = true;
    yield create(ScreenResponseSchema, {
      message: { case: "result", value: { summary, reportId: options.id, findingsNotStreamed: findings - BigInt(streamed) } },
    });
  } finally {
    if (!kept) await rm(dir, { recursive: true, force: true });
  }
}
