/**
 * A manifest uploaded to the console, screened server-side through the
 * gateway's Screen stream (browsers cannot open a bidirectional gRPC stream):
 * the file is read by the same reader as `imeifed screen`, every finding goes
 * to a CSV and a JSON report on disk, and the page gets progress (items per
 * second, time left), the first findings and the result as a server stream.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { ScreenProgressSchema, type ScreenResponse } from "../../gen/imeifed/console/v1/console_pb.js";
import { ScreenResponseSchema } from "../../gen/imeifed/console/v1/console_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { type ManifestItem, type ScreenRequestSchema, type ScreeningSummary, type Shipment } from "../../gen/imeifed/v1/federation_pb.js";
import { readManifestBatches, type ManifestReadProgress } from "../../gateway/screening/manifest-csv.js";
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

/** The manifest's item count: its data lines (the header and a final empty line do not count). */
export function countItems(manifest: Uint8Array): number {
  let lines = 0;
  for (let i = 0; i < manifest.length; i++) if (manifest[i] === 0x0a) lines++;
  if (manifest.length > 0 && manifest[manifest.length - 1] !== 0x0a) lines++;
  return Math.max(0, lines - 1);
}

/** A file name safe to create in our own directory, from whatever the browser sent. */
function safeName(name: string): string {
  const base = name.split(/[\\/]/).pop()!.replace(/[^\w.\- ]/g, "_").slice(0, 100);
  return base === "" || base.startsWith(".") ? "manifest.csv" : base;
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
  const dir = await mkdtemp(join(options.workDir, `${options.id}-`));
  let kept = false;
  try {
    const name = safeName(options.fileName);
    const manifestPath = join(dir, name);
    await writeFile(manifestPath, options.manifest);
    const total = countItems(options.manifest);
    const read: ManifestReadProgress = { bytesRead: 0, itemsRead: 0 };
    // Messages name the file as the officer knows it, not our temporary copy.
    const asUploaded = (error: unknown) => {
      if (error instanceof ImeifedError && error.message.startsWith(manifestPath)) return new ImeifedError(error.code, error.reason, `${name}${error.message.slice(manifestPath.length)}`);
      return error;
    };
    const batches = readManifestBatches(manifestPath, BATCH_SIZE, read);
    // The header and first batch are read before the gateway is called: a bad manifest is refused at once.
    const first = await batches.next().catch((error: unknown) => Promise.reject(asUploaded(error)));
    let manifestError: unknown;
    const shipment = options.shipment;
    async function* requests(): AsyncGenerator<MessageInitShape<typeof ScreenRequestSchema>> {
      yield { message: { case: "shipment", value: shipment } };
      const send = (items: ManifestItem[]) => ({ message: { case: "items" as const, value: { items } } });
      if (!first.done) yield send(first.value);
      try {
        for await (const batch of batches) yield send(batch);
      } catch (error) {
        manifestError = asUploaded(error);
        throw manifestError;
      }
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
      const cause = manifestError ?? error;
      await csv.close({ error: (cause as Error)?.message ?? String(cause) });
      await json.close({ error: (cause as Error)?.message ?? String(cause) });
      throw cause;
    }
    await csv.close({ summary });
    await json.close({ summary });
    yield progress(summary.itemsScreened);
    options.onFinished({ id: options.id, dir, csvPath, jsonPath, principal: options.principal, summary });
    kept = true;
    await rm(manifestPath, { force: true });
    yield create(ScreenResponseSchema, {
      message: { case: "result", value: { summary, reportId: options.id, findingsNotStreamed: findings - BigInt(streamed) } },
    });
  } finally {
    if (!kept) await rm(dir, { recursive: true, force: true });
  }
}
