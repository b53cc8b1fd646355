/**
 * FederationService.Screen: a customs officer streams a shipment's manifest
 * and hears, as they are found, the devices to look at, then the decision.
 * The stream's shape and its checks live in shipment-request.ts; the
 * screening itself in manifest-screening.ts; this module wires them to the
 * gateway (the single upstream path, the TAC data, the quota, the tripwire).
 */
import { createHash } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { FederationService, ScreeningDecision, ScreeningOutcome, type ScreeningSummarySchema } from "../../gen/imeifed/v1/federation_pb.js";
import { auditDetails } from "../../trust/audit/audit-interceptor.js";
import { SightingKind } from "../../gen/imeifed/v1/registry_pb.js";
import type { HandlerFor } from "../../rpc/index.js";
import { requesterOf } from "../../trust/principal.js";
import type { GatewayContext } from "../gateway-context.js";
import { callerOf } from "../../trust/principal.js";
import { itemBatches, readShipment } from "./shipment-request.js";
import type { ScreenRequestRead } from "./screen-request-reader.js";
import { SCREENING_DEFAULTS, screenManifest, type ManifestScreeningOptions } from "./manifest-screening.js";
import { devicePacer, type DeviceQuota } from "./screening-quota.js";
import { writeKeyDigits } from "../../device/index.js";

/** Bytes of one device in the audit digest: its 14-digit key and a newline. */
const KEY_LINE = 15;

/** Tuning a gateway (or a test) may pass; the defaults are in SCREENING_DEFAULTS. */
export type ScreenHandlerOptions = Partial<Pick<ManifestScreeningOptions, "chunkSize" | "maxChunksInFlight" | "progressEveryItems" | "progressEveryMs">> & {
  /** The caller's devices/s quota (trust/quota.ts's QuotaLimiter fits); unlimited when absent. */
  quota?: DeviceQuota | undefined;
};

/** The audit's one-line verdict of a screening: the decision and the non-zero counts. */
function auditVerdict(summary: MessageInitShape<typeof ScreeningSummarySchema>): string {
  const counts = (summary.counts ?? []).filter((c) => Number(c.count ?? 0) > 0).map((c) => `${ScreeningOutcome[c.outcome ?? 0]}:${c.count}`);
  return [ScreeningDecision[summary.decision ?? 0], ...counts].join(" ");
}

/** Builds the Screen handler. */
export function createScreenHandler(gw: GatewayContext, options: ScreenHandlerOptions = {}): HandlerFor<(typeof FederationService)["method"]["screen"], ScreenRequestRead> {
  const { upstreamMaxMs: capMs, marginMs } = gw.config.deadlines;
  const quota = options.quota ?? gw.quota;
  // A chunk fills one upstream batch of the most restrictive registry: one call per registry per chunk.
  const registryLimits = gw.links.filter((l) => l.kind === "registry").map((l) => l.batchLimit);
  const chunkSize = options.chunkSize ?? Math.min(10_000, Math.max(100, Math.min(...registryLimits, SCREENING_DEFAULTS.chunkSize * 10)));
  const metrics = gw.metrics;
  const onScreened = metrics?.screened ? (outcome: ScreeningOutcome, items: number) => metrics.screened!(outcome, items) : undefined;
  return async function* screen(requests, ctx) {
    const caller = callerOf(ctx);
    const requester = requesterOf(caller);
    const stream = requests[Symbol.asyncIterator]();
    const shipment = await readShipment(stream);
    // The audit records the declaration and a digest of the devices asked
    // about: SHA-256 over their keys in manifest order, streamed, so a
    // million-item manifest needs no sorted copy (the customs office holding
    // the manifest can recompute it).
    const audit = auditDetails(ctx);
    audit.purpose = shipment.declarationReference;
    const digest = createHash("sha256");
    let lines = Buffer.alloc(0);
    let checked = 0;
    const screening = screenManifest(itemBatches(stream), {
      ...options,
      chunkSize,
      checkMany: (keys, opts, keyNumbers) => gw.checker.checkBulkAnswers(keys, opts, keyNumbers),
      tac: gw.tac,
      requester,
      declarationReference: shipment.declarationReference,
      onUnanswered: shipment.onUnanswered,
      // A chunk may wait behind other chunks for an upstream slot, so it gets
      // two upstream budgets; never beyond the stream's own deadline.
      chunkDeadline: () => {
        const budget = Date.now() + 2 * capMs + marginMs;
        return new Date(ctx.deadline ? Math.min(ctx.deadline.getTime(), budget) : budget);
      },
      takeDevices: quota ? devicePacer(quota, requester.id, ctx.signal) : undefined,
      onScreened,
      onHit: (device, findings) => gw.tripwire?.hit({ key: device.key, findings, requester, kind: SightingKind.SCREENING_HIT, purpose: shipment.declarationReference }),
      onDevices: (keyNumbers) => {
        const n = keyNumbers.length;
        if (n === 0) return;
        // Each key's 14 digits and a newline, written from its number into one reused buffer: the
        // same bytes as `${keys.join("\n")}\n`, without building that string and encoding it
        // (tens of megabytes of garbage in a million-item screening).
        if (lines.length < n * KEY_LINE) lines = Buffer.allocUnsafe(n * KEY_LINE);
        for (let i = 0, at = 0; i < n; i++, at += KEY_LINE) {
          writeKeyDigits(lines, at, keyNumbers[i]!);
          lines[at + KEY_LINE - 1] = 0x0a;
        }
        digest.update(lines.subarray(0, n * KEY_LINE));
        checked += n;
      },
    });
    try {
      for await (const response of screening) {
        if (response.message?.case === "summary") audit.verdict = auditVerdict(response.message.value);
        yield response;
      }
    } finally {
      audit.batchDigest = digest.digest("hex");
      audit.batchSize = checked;
    }
  };
}
