/**
 * `imeifed sightings`: where the agency's listed devices surfaced — a lookup
 * or screening abroad that hit its record, or a found report with where the
 * device is and whom to call (RegistryService.WatchSightings on its home
 * registry, which streams the caller's own cases only). Without --follow it
 * prints what the registry holds and ends at the registry's caught-up mark;
 * with --follow it keeps watching,
 * resuming after the last sighting when the stream ends (a token's lifetime,
 * a registry restart).
 */
import { toJsonString } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { setTimeout as sleep } from "node:timers/promises";
import { mask } from "../../device/index.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { RegistryService, SightingKind, SightingSchema, type Sighting } from "../../gen/imeifed/v1/registry_pb.js";
import { createClient } from "../../rpc/index.js";
import { STREAM_EXPIRED } from "../../trust/stream-expired.js";
import { parseDurationMs, parseFlags } from "../args.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";
import { enumText } from "../enum-flag.js";
import { REGISTRY_TARGET_FLAGS, REGISTRY_TARGET_USAGE, registryTargetFromFlags } from "../registry-target.js";
import { TLS_FLAGS, TLS_USAGE, tlsClientOptions } from "../tls-flags.js";

const USAGE = `usage: imeifed sightings (--registry ADDR --token FILE | --demo DIR --as ID)
                         [--follow] [--after SEQ] [--max N] [--json]

Shows where your agency's listed devices surfaced (WatchSightings on your home
registry): lookup hits and screening hits abroad, and found reports with where
the device is held and whom to call. Only your own cases are shown.

  --follow              keep watching for new sightings (Ctrl-C stops); the
                        stream is resumed after the last sighting if it ends
  --after SEQ           only sightings after this sequence number (default 0: all)
  --max N               stop after N sightings
  --timeout DURATION    without --follow: how long the listing may take (default 30s)
  --json                one JSON object per line (protobuf JSON mapping, full device key)
${REGISTRY_TARGET_USAGE}
${TLS_USAGE}

One line a sighting: sequence, time, kind (lookup-hit, screening-hit, found),
the device (masked), the country and partner where it surfaced, your case
reference, and for a found report where it is, who holds it and the contact.

Exit status: 0 done (or stopped), 1 error, 64 usage error.`;

/** One sighting as a person reads it. */
export function formatSighting(s: Sighting): string {
  const at = s.seenAt ? timestampDate(s.seenAt).toISOString() : "";
  const parts = [String(s.sequence).padStart(6), at, enumText(SightingKind, s.kind).padEnd(13), mask(s.deviceKey), `seen in ${s.seenInCountry || "?"} by ${s.partnerKind}:${s.partnerId}`, `case ${s.caseReference}`];
  if (s.purpose) parts.push(`purpose ${s.purpose}`);
  if (s.found) parts.push(`at ${JSON.stringify(s.found.location)}, held by ${JSON.stringify(s.found.holdingAgency)}, contact ${JSON.stringify(s.found.contact)}${s.found.note ? `, note ${JSON.stringify(s.found.note)}` : ""}`);
  return parts.join("  ");
}

/** Stream endings a follower resumes from (with a fresh token); anything else is an error to report. */
function resumable(error: unknown): boolean {
  if (!(error instanceof ImeifedError)) return false;
  if (error.code === Code.UNAUTHENTICATED) return error.reason === STREAM_EXPIRED;
  return error.code === Code.UNAVAILABLE || error.code === Code.DEADLINE_EXCEEDED || error.code === Code.RESOURCE_EXHAUSTED;
}

export const command: Command = {
  summary: "show (or --follow) where your agency's listed devices surfaced (police)",
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        ...REGISTRY_TARGET_FLAGS,
        ...TLS_FLAGS,
        follow: { type: "boolean" },
        after: { type: "string" },
        max: { type: "string" },
        timeout: { type: "string" },
        json: { type: "boolean" },
      },
      false,
    );
    const afterText = values.after ?? "0";
    if (!/^\d{1,19}$/.test(afterText)) throw new UsageError(`--after: a sequence number (0 or more), got ${values.after}`);
    let after = BigInt(afterText);
    let max: number | undefined;
    if (values.max !== undefined) {
      max = Number(values.max);
      if (!Number.isInteger(max) || max < 1) throw new UsageError(`--max: a whole number from 1, got ${values.max}`);
    }
    if (values.follow && values.timeout !== undefined) throw new UsageError("--timeout bounds a listing; it does not go with --follow");
    const timeoutMs = parseDurationMs(values.timeout ?? "30s", "timeout");
    const follow = values.follow === true;
    const target = await registryTargetFromFlags(values);
    const client = createClient(RegistryService, target.address, {
      ...(await tlsClientOptions(values)),
      metadata: async () => ({ authorization: `Bearer ${await target.token()}` }),
    });
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    let shown = 0;
    let backoffMs = 250;
    try {
      for (;;) {
        const call = new AbortController();
        const ended = () => call.abort();
        stop.signal.addEventListener("abort", ended);
        try {
          // A listing asks the registry to mark the end of what it holds, and stops there.
          const stream = client.watchSightings({ afterSequence: after, announceCaughtUp: !follow }, { signal: call.signal, ...(follow ? {} : { deadline: timeoutMs }) });
          for await (const response of stream) {
            if (response.caughtUp && !follow) return EXIT_OK;
            const sighting = response.sighting;
            if (!sighting) continue;
            console.log(values.json ? toJsonString(SightingSchema, sighting) : formatSighting(sighting));
            after = sighting.sequence;
            shown++;
            backoffMs = 250;
            if (max !== undefined && shown >= max) return EXIT_OK;
          }
          if (!follow) throw new ImeifedError(Code.UNAVAILABLE, "STREAM_ENDED", "the registry ended the stream before the end of the listing; list again");
        } catch (error) {
          if (stop.signal.aborted) return EXIT_OK;
          if (!follow || !resumable(error)) throw error;
          process.stderr.write(`sightings: stream ended (${(error as Error).message}); resuming after ${after} in ${backoffMs} ms\n`);
        } finally {
          stop.signal.removeEventListener("abort", ended);
        }
        await sleep(backoffMs, undefined, { signal: stop.signal }).catch(() => {});
        if (stop.signal.aborted) return EXIT_OK;
        backoffMs = Math.min(backoffMs * 2, 10_000);
      }
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      client.close();
    }
  },
};
