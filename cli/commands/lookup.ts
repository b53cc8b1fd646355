/**
 * `imeifed lookup IMEI`: asks the federation about one device and prints the
 * answer as a readable table (or JSON for scripts), so a police officer abroad
 * sees at once whether the phone is stolen anywhere, where, and who reported it.
 */
import { toJsonString } from "@bufbuild/protobuf";
import { durationMs, timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { mask, parseDevice } from "../../device/index.js";
import { DeviceStatus, Reason } from "../../gen/imeifed/v1/device_pb.js";
import { FederationService, LookupResponseSchema, UnansweredReason, Verdict, type LookupResponse } from "../../gen/imeifed/v1/federation_pb.js";
import { createClient } from "../../rpc/index.js";
import { parseDurationMs, parseFlags, required } from "../args.js";
import { clientTargetFromFlags, GATEWAY_TARGET_FLAGS, readTokenFile } from "../client-target.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";
import { TLS_FLAGS, tlsClientOptions } from "../tls-flags.js";

const USAGE = `usage: imeifed lookup IMEI --purpose REF (--gateway ADDR --token FILE | --demo DIR --as ID)
                      [--countries GB,ES] [--json] [--timeout 5s]

Asks every registry of the federation (or the named ones) about one device:
a 15-digit IMEI, a 16-digit IMEISV or the 14-digit body.

  --gateway ADDR        the gateway, host:port
  --token FILE          a file holding your bearer token (scope devices:check)
  --demo DIR --as ID    take the gateway address and ID's token from a running demo
  --countries GB,ES     ask only these registries (ISO 3166-1 alpha-2)
  --purpose REF         the case or declaration reference you act under (required: every registry audits it)
  --json                print the answer as JSON (protobuf JSON mapping)
  --timeout DURATION    how long to wait for the answer (default 5s)
  --ca, --cert, --key, --server-name   TLS (and mutual TLS) to the gateway

Exit status: 0 answered (whatever the verdict), 1 error, 64 usage error.`;

function name<E extends Record<number, string>>(values: E, value: number, prefix = ""): string {
  return (values[value] ?? "UNSPECIFIED").replace(prefix, "");
}

function day(ts: Timestamp | undefined): string {
  return ts ? timestampDate(ts).toISOString().slice(0, 10) : "";
}

function seconds(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`;
}

/** Lays out rows as columns padded to their widest cell. */
function columns(rows: string[][], indent = "  "): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => indent + r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd());
}

/** The answer as the table a person reads. */
export function formatLookup(r: LookupResponse): string {
  const lines: string[] = [];
  const device = r.device;
  lines.push(`Verdict    ${name(Verdict, r.verdict)}`);
  if (device) {
    const model = [r.make, r.model].filter(Boolean).join(" ");
    lines.push(`Device     ${mask(device.imei)}  TAC ${device.tac} (${device.issuingBody || "unknown body"})${model ? `  ${model}` : ""}`);
  }
  const age = r.cacheAge ? durationMs(r.cacheAge) : 0;
  lines.push(`Answer     ${r.fromCache ? `from the gateway's cache, ${seconds(age)} old` : age > 0 ? `partly cached (oldest ${seconds(age)})` : "fresh from the registries"}`);
  if (r.findings.length > 0) {
    lines.push("", "Findings");
    const rows = [["COUNTRY", "STATUS", "REASON", "REPORTED", "AGENCY", "VERIFIED", "NOTE"]];
    for (const f of r.findings) {
      const x = f.finding;
      if (!x) continue;
      const note = [f.stale ? `stale (${seconds(f.age ? durationMs(f.age) : 0)} old; registry unreachable)` : "", x.withheldFields.length ? `withheld: ${x.withheldFields.join(", ")}` : ""].filter(Boolean).join("; ");
      rows.push([x.country, name(DeviceStatus, x.status), name(Reason, x.reason), day(x.reportedAt), x.reportingAgency || "-", x.verified ? "yes" : "no", note]);
    }
    lines.push(...columns(rows));
  }
  if (r.unanswered.length > 0) {
    lines.push("", "Did not answer");
    lines.push(...columns([["COUNTRY", "WHY", "DETAIL"], ...r.unanswered.map((u) => [u.country, name(UnansweredReason, u.reason), u.detail])]));
  }
  return lines.join("\n");
}

export const command: Command = {
  summary: "ask every registry about one device and show the federated verdict",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      ...GATEWAY_TARGET_FLAGS,
      countries: { type: "string" },
      purpose: { type: "string" },
      json: { type: "boolean" },
      timeout: { type: "string" },
      ...TLS_FLAGS,
    });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "give the IMEI to look up" : `one IMEI at a time; got ${positionals.join(" ")}`);
    const parsed = parseDevice(positionals[0]!, "IMEI");
    if (!parsed.ok) throw new UsageError(parsed.error.message);
    const purpose = required(values.purpose?.trim(), "purpose");
    const countries = (values.countries ?? "").split(",").map((c) => c.trim().toUpperCase()).filter(Boolean);
    for (const c of countries) if (!/^[A-Z]{2}$/.test(c)) throw new UsageError(`--countries: ${c} is not an ISO 3166-1 alpha-2 code such as GB`);
    const timeoutMs = parseDurationMs(values.timeout ?? "5s", "timeout");
    const target = await clientTargetFromFlags(values);
    const token = await readTokenFile(target.tokenFile);
    const client = createClient(FederationService, target.address, {
      metadata: () => ({ authorization: `Bearer ${token}` }),
      ...(await tlsClientOptions(values)),
    });
    try {
      const response = await client.lookup({ imei: positionals[0]!, countries, purpose }, { deadline: timeoutMs });
      console.log(values.json ? toJsonString(LookupResponseSchema, response, { prettySpaces: 2 }) : formatLookup(response));
      return EXIT_OK;
    } finally {
      client.close();
    }
  },
};
