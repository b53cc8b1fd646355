/**
 * `imeifed found IMEI`: police or customs holding a device report it found
 * (FederationService.ReportFound). The gateway finds the registries that list
 * it and records a FOUND sighting with each, so the agency that reported the
 * theft learns where the phone is and whom to call.
 */
import { toJsonString } from "@bufbuild/protobuf";
import { parseDevice, mask } from "../../device/index.js";
import { FederationService, ReportFoundResponseSchema, UnansweredReason, type ReportFoundResponse } from "../../gen/imeifed/v1/federation_pb.js";
import { createClient } from "../../rpc/index.js";
import { parseDurationMs, parseFlags, required } from "../args.js";
import { clientTargetFromFlags, GATEWAY_TARGET_FLAGS, readTokenFile } from "../client-target.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";
import { TLS_FLAGS, TLS_USAGE, tlsClientOptions } from "../tls-flags.js";

const USAGE = `usage: imeifed found IMEI --where PLACE --contact HOW --purpose REF
                     (--gateway ADDR --token FILE | --demo DIR --as ID)
                     [--holder AGENCY] [--note TEXT] [--json]

Reports a device you hold as found (ReportFound). The gateway routes the report
to every registry that lists the device; each records it against its case, and
the reporting agency sees it in \`imeifed sightings\`.

  IMEI                  15-digit IMEI, 16-digit IMEISV or 14-digit body
  --where PLACE         where the device is held (required)
  --contact HOW         how the owning agency reaches you: phone, email (required)
  --holder AGENCY       the agency holding it (default: your agency's name)
  --note TEXT           anything else the owning agency should know
  --purpose REF         the case you act under (required: every registry audits it)
  --json                print the answer as JSON (protobuf JSON mapping)
  --timeout DURATION    how long to wait for the answer (default 10s)
  --gateway ADDR        the gateway, host:port
  --token FILE          a file holding your bearer token (scope devices:found)
  --demo DIR --as ID    take the gateway address and ID's token from a running demo
${TLS_USAGE}

Exit status: 0 answered (also when no registry lists the device: the output
says so), 1 error, 64 usage error.`;

/** The answer as a person reads it. */
export function formatFound(r: ReportFoundResponse, imei: string): string {
  const lines: string[] = [];
  const device = mask(r.device?.imei ?? imei);
  lines.push(r.notifiedCountries.length > 0 ? `found report recorded for ${device} by: ${r.notifiedCountries.join(", ")}` : `no registry holds an open record of ${device}: nobody was notified`);
  for (const u of r.unanswered) lines.push(`  not told: ${u.country} (${(UnansweredReason[u.reason] ?? "UNSPECIFIED").toLowerCase()}${u.detail ? `: ${u.detail}` : ""})`);
  return lines.join("\n");
}

export const command: Command = {
  summary: "report a device you hold as found; the registries that list it are told",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      ...GATEWAY_TARGET_FLAGS,
      ...TLS_FLAGS,
      where: { type: "string" },
      contact: { type: "string" },
      holder: { type: "string" },
      note: { type: "string" },
      purpose: { type: "string" },
      json: { type: "boolean" },
      timeout: { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "give the IMEI of the device you hold" : `one IMEI at a time; got ${positionals.join(" ")}`);
    const imei = positionals[0]!;
    const parsed = parseDevice(imei, "IMEI");
    if (!parsed.ok) throw new UsageError(parsed.error.message);
    const location = required(values.where?.trim(), "where");
    const contact = required(values.contact?.trim(), "contact");
    const purpose = required(values.purpose?.trim(), "purpose");
    const timeoutMs = parseDurationMs(values.timeout ?? "10s", "timeout");
    const target = await clientTargetFromFlags(values);
    const token = await readTokenFile(target.tokenFile);
    const client = createClient(FederationService, target.address, {
      ...(await tlsClientOptions(values)),
      metadata: () => ({ authorization: `Bearer ${token}` }),
    });
    try {
      const response = await client.reportFound({ imei, purpose, found: { location, contact, holdingAgency: values.holder ?? "", note: values.note ?? "" } }, { deadline: timeoutMs });
      console.log(values.json ? toJsonString(ReportFoundResponseSchema, response, { prettySpaces: 2 }) : formatFound(response, imei));
      return EXIT_OK;
    } finally {
      client.close();
    }
  },
};
