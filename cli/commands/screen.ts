/**
 * `imeifed screen`: the customs command line. Streams a manifest file to the
 * gateway's Screen (never loading it whole), shows progress, writes the
 * findings to a report file, and ends with an exit status an export pipeline
 * can branch on.
 */
import { stat } from "node:fs/promises";
import { parseFlags, required } from "../args.js";
import { clientTargetFromFlags, readTokenFile } from "../client-target.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { mask } from "../../device/index.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import {
  FederationService,
  ScreeningDecision,
  ScreeningOutcome,
  UnansweredPolicy,
  UnansweredReason,
  type ManifestItem,
  type ScreeningFinding,
  type ScreeningSummary,
  type ScreenRequestSchema,
} from "../../gen/imeifed/v1/federation_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "../../rpc/index.js";
import { channelCredentials, tlsChannelOptions } from "../../trust/tls.js";
import { checkManifest, manifestFile, manifestItemsOf, readManifest, ManifestRefusal, type ManifestReadProgress } from "../../manifest/index.js";
import { openScreeningReport, outcomeName, reportFormatOf, type ScreeningReport } from "../../gateway/screening/screening-report.js";

/** Findings were found: the shipment is held; look at the report. */
export const EXIT_FINDINGS = 2;
/** Nothing was found, but some registry did not answer and the policy is hold: screen again later. */
export const EXIT_UNANSWERED = 3;

const USAGE = `usage: imeifed screen MANIFEST --destination CC --declaration REF
                      (--gateway ADDR --token FILE | --demo DIR --as ID)
                      [--on-unanswered hold|pass] [--report FILE.csv|FILE.json]
                      [--exporter NAME] [--batch 1000]

Screens a shipment manifest against every registry of the federation.

The manifest is a CSV file (comma, semicolon or tab separated, UTF-8, with or
without a byte-order mark) or an Excel workbook (.xlsx, its first worksheet).
Its first row names the columns, in any order; case, spaces and punctuation do
not matter, and other columns are ignored:
  IMEI             required (also "IMEI 1", "device_id"): the IMEI (15 digits),
                   IMEISV (16) or 14-digit body as printed on the manifest
  IMEI 2           optional: a dual-SIM phone's second IMEI (one device, one
                   line; both IMEIs are screened, findings share the line)
  Make             optional (also "Brand"): checked against the TAC's known
                   make (MODEL_MISMATCH)
  Model            optional
  Line reference   optional: your line reference, echoed in findings (default:
                   "line N" of the CSV, "row N" of the sheet)
The whole manifest is read before anything is screened: a file that cannot be
read (a header without an IMEI column, a quote never closed, more fields than
the header, text that is not UTF-8) is refused with its line, and nothing is
sent. In a workbook, keep IMEIs as text: a number cell loses a leading zero.

  --destination CC        ISO 3166-1 alpha-2 destination country, for example HK
  --declaration REF       the export declaration reference (recorded in every
                          registry's audit as the purpose)
  --gateway ADDR          the gateway, host:port
  --token FILE            a file holding your bearer token (scope devices:screen)
  --demo DIR --as ID      take the gateway address and ID's token from a running demo
  --on-unanswered POLICY  hold (default): a registry that does not answer holds the
                          shipment; pass: decide on what the answering registries said
  --report FILE           write every finding to FILE: .csv (one row per finding,
                          with the registries' attestations) or .json (findings and
                          summary). Without it, findings are printed on stdout.
  --exporter NAME         the exporter, sent with the shipment
  --batch N               items per message to the gateway (default 1000, at most 10000)
  --ca, --cert, --key, --server-name   TLS (and mutual TLS) to the gateway

Progress goes to stderr: a bar on a terminal, plain lines otherwise.

Exit status:
  0   RELEASE: nothing found (clean)
  2   HOLD: findings (PROHIBITED, TRACKED, MALFORMED, DUPLICATE, MODEL_MISMATCH);
      see the report
  3   HOLD only because a registry did not answer (policy hold): screen again later
  1   error: unreadable manifest, gateway unreachable, token refused, ...
  64  usage error`;

/** Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise. */
class ProgressDisplay {
  readonly #tty = process.stderr.isTTY === true;
  readonly #started = Date.now();
  #lastDraw = 0;

  constructor(
    readonly totalBytes: number,
    readonly read: ManifestReadProgress,
  ) {}

  update(items: bigint, findings: bigint, final = false): void {
    const now = Date.now();
    if (!final && now - this.#lastDraw < (this.#tty ? 100 : 2_000)) return;
    this.#lastDraw = now;
    const seconds = Math.max(0.001, (now - this.#started) / 1000);
    const rate = Math.round(Number(items) / seconds).toLocaleString("en");
    const fraction = this.totalBytes > 0 ? Math.min(1, this.read.bytesRead / this.totalBytes) : 0;
    const counts = `${items.toLocaleString("en")} items screened, ${findings.toLocaleString("en")} findings, ${rate} items/s`;
    if (this.#tty) {
      const width = 24;
      const filled = Math.round(fraction * width);
      process.stderr.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%  ${counts}\x1b[K`);
      if (final) process.stderr.write("\n");
    } else {
      process.stderr.write(`screening: ${counts}\n`);
    }
  }
}

function findingLine(f: ScreeningFinding): string {
  const where = f.findings.filter((r) => r.finding).map((r) => `${r.finding!.country}:${DeviceStatus[r.finding!.status]}`).join(",");
  const device = f.device?.deviceKey ? mask(f.device.deviceKey) : JSON.stringify(f.item?.deviceId ?? "");
  return `${outcomeName(f.outcome).padEnd(15)} item ${f.itemIndex}  ${f.item?.lineReference ?? ""}  ${device}  ${f.detail}${where ? `  [${where}]` : ""}`;
}

function summaryText(summary: ScreeningSummary, reportPath: string | undefined): string {
  const lines = [`declaration ${summary.declarationReference}: ${ScreeningDecision[summary.decision] ?? summary.decision}`, `  items screened   ${summary.itemsScreened.toLocaleString("en")}`];
  for (const c of summary.counts) if (c.count > 0n) lines.push(`  ${(ScreeningOutcome[c.outcome] ?? String(c.outcome)).padEnd(16)} ${c.count.toLocaleString("en")}`);
  for (const u of summary.unanswered) lines.push(`  did not answer: ${u.country} (${UnansweredReason[u.reason] ?? u.reason}${u.detail ? `: ${u.detail}` : ""})`);
  if (reportPath) lines.push(`  report           ${reportPath}`);
  return lines.join("\n");
}

/** The exit status of a finished screening (see the usage). */
export function exitStatusOf(summary: ScreeningSummary): number {
  if (summary.decision === ScreeningDecision.RELEASE) return EXIT_OK;
  const findings = summary.counts.some((c) => c.count > 0n && c.outcome !== ScreeningOutcome.CLEAR && c.outcome !== ScreeningOutcome.UNANSWERED);
  return findings ? EXIT_FINDINGS : EXIT_UNANSWERED;
}

export const command: Command = {
  summary: "screen a shipment manifest (customs); exit 0 clean, 2 findings, 3 unanswered, 1 error",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      destination: { type: "string" },
      declaration: { type: "string" },
      gateway: { type: "string" },
      token: { type: "string" },
      demo: { type: "string" },
      as: { type: "string" },
      "on-unanswered": { type: "string" },
      report: { type: "string" },
      exporter: { type: "string" },
      batch: { type: "string" },
      ca: { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
      "server-name": { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "name the manifest file" : `one manifest at a time; got ${positionals.join(" ")}`);
    const manifest = positionals[0]!;
    const destination = required(values.destination, "destination").trim().toUpperCase();
    if (!/^[A-Z]{2}$/.test(destination)) throw new UsageError(`--destination: ${values.destination} is not an ISO 3166-1 alpha-2 code such as HK`);
    const declaration = required(values.declaration, "declaration").trim();
    const policyFlag = (values["on-unanswered"] ?? "hold").toLowerCase();
    if (policyFlag !== "hold" && policyFlag !== "pass") throw new UsageError(`--on-unanswered: hold or pass, not ${values["on-unanswered"]}`);
    const batchSize = Number(values.batch ?? "1000");
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new UsageError(`--batch: a whole number from 1 to 10000, got ${values.batch}`);
    const reportPath = values.report;
    if (reportPath !== undefined && reportFormatOf(reportPath) === undefined) throw new UsageError(`--report: name a .csv or .json file, not ${reportPath}`);
    const target = await clientTargetFromFlags(values);
    const token = await readTokenFile(target.tokenFile);

    const totalBytes = await stat(manifest).then(
      (s) => s.size,
      (error: NodeJS.ErrnoException) => {
        throw new ManifestRefusal(manifest, undefined, `cannot read the manifest: ${error.code ?? error.message}`);
      },
    );
    // Read the whole manifest before calling: a bad manifest is refused here, with nothing screened.
    const source = manifestFile(manifest);
    const checked = await checkManifest(source);
    const layout = checked.format.kind === "xlsx" ? "Excel workbook" : `CSV separated by ${{ ",": "commas", ";": "semicolons", "\t": "tabs" }[checked.format.separator]}`;
    process.stderr.write(`manifest: ${checked.devices.toLocaleString("en")} devices, ${checked.imeis.toLocaleString("en")} IMEIs (${layout})\n`);
    const read: ManifestReadProgress = { bytesRead: 0, devicesRead: 0 };
    const batches = readManifest(source, { batchSize, progress: read });
    let manifestError: unknown;
    async function* requests(): AsyncGenerator<MessageInitShape<typeof ScreenRequestSchema>> {
      yield {
        message: {
          case: "shipment",
          value: {
            declarationReference: declaration,
            destinationCountry: destination,
            exporter: values.exporter ?? "",
            onUnanswered: policyFlag === "pass" ? UnansweredPolicy.PASS : UnansweredPolicy.HOLD,
          },
        },
      };
      const send = (items: ManifestItem[]) => ({ message: { case: "items" as const, value: { items } } });
      try {
        for await (const batch of batches) {
          // A dual-SIM device is two items: keep each message within --batch items.
          const items = manifestItemsOf(batch);
          for (let at = 0; at < items.length; at += batchSize) yield send(items.slice(at, at + batchSize));
        }
      } catch (error) {
        manifestError = error;
        throw error;
      }
    }

    const tlsConfig = {
      ...(values.ca ? { ca: values.ca } : {}),
      ...(values.cert ? { cert: values.cert } : {}),
      ...(values.key ? { key: values.key } : {}),
      ...(values["server-name"] ? { serverName: values["server-name"] } : {}),
    };
    const tls = Object.keys(tlsConfig).length > 0;
    const client = createClient(FederationService, target.address, {
      ...(tls ? { credentials: await channelCredentials(tlsConfig), channelOptions: tlsChannelOptions(tlsConfig) } : {}),
      metadata: () => ({ authorization: `Bearer ${token}` }),
    });
    const report: ScreeningReport | undefined = reportPath ? await openScreeningReport(reportPath) : undefined;
    const progress = new ProgressDisplay(totalBytes, read);
    let summary: ScreeningSummary | undefined;
    let findings = 0n;
    try {
      for await (const response of client.screen(requests())) {
        const message = response.message;
        if (message.case === "finding") {
          findings++;
          if (report) await report.finding(message.value);
          else console.log(findingLine(message.value));
        } else if (message.case === "progress") {
          progress.update(message.value.itemsScreened, message.value.findings);
        } else if (message.case === "summary") {
          summary = message.value;
        }
      }
      if (!summary) throw new ImeifedError(Code.UNAVAILABLE, "NO_SUMMARY", "the gateway ended the screening without a summary; screen again");
    } catch (error) {
      const cause = manifestError ?? error;
      await report?.close({ error: (cause as Error)?.message ?? String(cause) });
      throw cause;
    } finally {
      client.close();
    }
    progress.update(summary.itemsScreened, findings, true);
    await report?.close({ summary });
    console.log(summaryText(summary, reportPath));
    return exitStatusOf(summary);
  },
};
