/**
 * `imeifed oem watch`: the reference manufacturer consumer of the stolen feed.
 * It prints each event it would act on, after verifying the owning registry's
 * attestation offline; prints REFUSED for an event that does not verify (and
 * does not act on it); drops repeats by event id; and keeps its cursor in a
 * file so a restart resumes where it stopped. See oem/README.md.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { FederationService, StolenEventKind } from "../../gen/imeifed/v1/federation_pb.js";
import { Code } from "../../errors/index.js";
import { mask } from "../../device/index.js";
import { createClient, type Client } from "../../rpc/index.js";
import type { AttestationClaims } from "../../trust/attestation.js";
import { consumeStolenFeed, fileKeySource, gatewayKeySource, type ConsumerNotice, type RegistryKeySource } from "../../oem/index.js";
import { parseFlags, required } from "../args.js";
import { clientTargetFromFlags, readTokenFile } from "../client-target.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";
import { TLS_FLAGS, tlsClientOptions } from "../tls-flags.js";

const USAGE = `usage: imeifed oem watch (--gateway ADDR --token FILE | --demo DIR --as ID)
                         --cursor-file FILE [--jwks FILE] [--json] [--max-events N] [--from-now]
                         [--ca FILE [--cert FILE --key FILE] [--server-name NAME]]

Follows the stolen-mode feed (FederationService.WatchStolen) as a manufacturer.

  --gateway ADDR      the gateway, host:port
  --token FILE        a file holding your bearer token (scope devices:watch); it is
                      re-read at every reconnection, so renew it in place
  --demo DIR --as ID  take the gateway address and ID's token from a running demo
  --cursor-file FILE  where the cursor and recent event ids are kept (created if
                      absent, replaced atomically after each event)
  --jwks FILE         the registries' public keys: a JWKS, or {"registries": {"GB": JWKS}}.
                      Without it the keys are fetched once from the gateway's
                      GetRegistryKeys: simpler, but then a compromised gateway could
                      hand out keys of its own; a file obtained out of band cannot be forged
  --json              one JSON object per line (full device key), for programs
  --max-events N      exit after handling N events (acted on or refused)
  --from-now          with a new cursor file, start at the registries' heads instead of
                      reading their history once (the default, so phones stolen
                      before the first run are acted on too)
  --ca, --cert, --key, --server-name   TLS (and mutual TLS) to the gateway

Lines: STOLEN_VERIFIED / TRACKED / CLEARED for verified events (the device is
shown masked), REFUSED for events whose attestation does not verify or does not
match (not acted on; the cursor moves past them). Repeats and reconnections go
to stderr.`;

/** The line printed for an event; the device is masked unless the output is JSON for a program. */
function eventLine(notice: Extract<ConsumerNotice, { type: "acted" | "refused" }>, json: boolean): string {
  const event = notice.event;
  const changedAt = event.changedAt ? timestampDate(event.changedAt).toISOString() : "";
  if (json) {
    const base = {
      eventId: event.eventId,
      kind: StolenEventKind[event.kind] ?? String(event.kind),
      country: event.country,
      deviceKey: event.device?.deviceKey ?? "",
      imei: event.device?.imei ?? "",
      changedAt,
    };
    if (notice.type === "refused") return JSON.stringify({ result: "REFUSED", ...base, problem: notice.problem });
    const claims: AttestationClaims = notice.claims;
    return JSON.stringify({ result: "ACTED", ...base, attestedBy: claims.iss, reason: claims.reason, recordId: claims.record_id });
  }
  const device = mask(event.device?.deviceKey ?? "");
  if (notice.type === "refused") return `REFUSED          ${event.eventId}  ${event.country}  ${device}  ${notice.problem}`;
  const kind = (StolenEventKind[notice.event.kind] ?? "?").padEnd(16);
  return `${kind} ${event.country}  ${device}  ${changedAt}  ${event.eventId}  attested by ${notice.claims.iss}`;
}

export const command: Command = {
  summary: "follow the stolen-mode feed as a manufacturer, verifying each event",
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        gateway: { type: "string" },
        token: { type: "string" },
        demo: { type: "string" },
        as: { type: "string" },
        jwks: { type: "string" },
        "cursor-file": { type: "string" },
        json: { type: "boolean", default: false },
        "max-events": { type: "string" },
        "from-now": { type: "boolean", default: false },
        ...TLS_FLAGS,
      },
      false,
    );
    const cursorFile = required(values["cursor-file"], "cursor-file");
    const target = await clientTargetFromFlags(values);
    let maxEvents: number | undefined;
    if (values["max-events"] !== undefined) {
      maxEvents = Number(values["max-events"]);
      if (!Number.isInteger(maxEvents) || maxEvents < 1) throw new UsageError(`--max-events: a whole number from 1, got ${values["max-events"]}`);
    }
    const client: Client<typeof FederationService> = createClient(FederationService, target.address, {
      ...(await tlsClientOptions(values)),
      // Re-read per call: an operator renews the token file without restarting the consumer.
      metadata: async () => ({ authorization: `Bearer ${await readTokenFile(target.tokenFile)}` }),
    });
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      const keys: RegistryKeySource = values.jwks
        ? await fileKeySource(values.jwks)
        : await gatewayKeySource(() => client.getRegistryKeys({}, { deadline: 10_000 }));
      const json = values.json;
      const result = await consumeStolenFeed({
        openFeed: (cursor, signal, replay) => (async function* () {
          for await (const response of client.watchStolen({ cursor, replay }, { signal })) yield response;
        })(),
        fromNow: values["from-now"],
        keys,
        cursorFile,
        signal: stop.signal,
        ...(maxEvents !== undefined ? { maxEvents } : {}),
        // The reference action is to print: a manufacturer replaces this with its device-management call.
        act: () => {},
        notify: (notice) => {
          switch (notice.type) {
            case "acted":
            case "refused":
              console.log(eventLine(notice, json));
              break;
            case "repeat":
              console.error(`repeat of ${notice.event.eventId} dropped`);
              break;
            case "disconnected":
              console.error(`feed interrupted (${Code[notice.error.code] ?? notice.error.code}: ${notice.error.message}); reconnecting in ${notice.retryInMs} ms`);
              break;
            case "connected":
              console.error(notice.cursor ? "following the stolen feed from the saved cursor" : values["from-now"] ? "following the stolen feed from now" : "following the stolen feed from the beginning");
              break;
          }
        },
      });
      console.error(`handled ${result.handled} event(s); cursor saved in ${cursorFile}`);
      return EXIT_OK;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      client.close();
    }
  },
};
