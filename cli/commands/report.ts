/**
 * `imeifed report IMEI [IMEI2]`: a police agency lists a stolen or lost
 * device (both IMEIs of a dual-SIM phone on one report) in its home national
 * registry (RegistryService.ReportDevice), from where the federation answers
 * every lookup and screening abroad.
 */
import { toJsonString } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { mask, parseDevice } from "../../device/index.js";
import { DeviceStatus, Reason } from "../../gen/imeifed/v1/device_pb.js";
import { RegistryService, ReportDeviceResponseSchema, type ReportDeviceResponse } from "../../gen/imeifed/v1/registry_pb.js";
import { createClient } from "../../rpc/index.js";
import { parseDurationMs, parseFlags, required } from "../args.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";
import { enumFlag } from "../enum-flag.js";
import { REGISTRY_TARGET_FLAGS, REGISTRY_TARGET_USAGE, registryTargetFromFlags } from "../registry-target.js";
import { TLS_FLAGS, TLS_USAGE, tlsClientOptions } from "../tls-flags.js";

const REASONS = ["STOLEN", "LOST", "FRAUD", "COUNTERFEIT", "REGULATORY", "NON_PAYMENT", "BLOCKED"] as const;
const STATUSES = ["PROHIBITED", "TRACKED"] as const;

const USAGE = `usage: imeifed report IMEI [IMEI2] --case REF --reason REASON
                      (--registry ADDR --token FILE | --demo DIR --as ID)
                      [--status prohibited|tracked] [--crime-ref REF] [--occurred-at TIME]
                      [--make MAKE] [--model MODEL] [--source-reason-code CODE]
                      [--owner-name N] [--owner-phone P] [--owner-email E] [--json]

Reports a device to your home national registry (ReportDevice). Give both IMEIs
of a dual-SIM phone: one report covers the device. Reporting the same case and
device again changes nothing (it says "already recorded").

  IMEI [IMEI2]               15-digit IMEI, 16-digit IMEISV or 14-digit body
  --case REF                 your case reference (required): you clear by it later
  --reason REASON            stolen, lost, fraud, counterfeit, regulatory,
                             non-payment or blocked (required)
  --status STATUS            prohibited (default: networks refuse the phone) or
                             tracked (recovery mode: it keeps working, sightings report it)
  --crime-ref REF            the police crime reference: the report is then verified
                             (manufacturers act only on verified thefts)
  --occurred-at TIME         when it happened: ISO 8601, e.g. 2026-12-01T18:30:00Z
  --make, --model            the device as the owner describes it
  --source-reason-code CODE  your own reason code (e.g. GSMA 0011)
  --owner-name, --owner-phone, --owner-email
                             the owner's contact: kept by the registry, never shared
  --json                     print the answer as JSON (protobuf JSON mapping)
  --timeout DURATION         how long to wait for the answer (default 10s)
${REGISTRY_TARGET_USAGE}
${TLS_USAGE}

Exit status: 0 reported (or already recorded), 1 error (refused, unreachable,
...), 64 usage error.`;

/** The answer as a person reads it. */
export function formatReport(response: ReportDeviceResponse, country: string | undefined): string {
  const where = country ? ` in ${country}` : "";
  return response.devices
    .map((d) => `${d.created ? "reported" : "already recorded"}${where}: ${mask(d.device?.imei ?? d.device?.deviceKey ?? "")}  record ${d.recordId}  sequence ${d.sequence}`)
    .join("\n");
}

export const command: Command = {
  summary: "report a stolen or lost device to your home registry (police)",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      ...REGISTRY_TARGET_FLAGS,
      ...TLS_FLAGS,
      case: { type: "string" },
      reason: { type: "string" },
      status: { type: "string" },
      "crime-ref": { type: "string" },
      "occurred-at": { type: "string" },
      make: { type: "string" },
      model: { type: "string" },
      "source-reason-code": { type: "string" },
      "owner-name": { type: "string" },
      "owner-phone": { type: "string" },
      "owner-email": { type: "string" },
      json: { type: "boolean" },
      timeout: { type: "string" },
    });
    if (positionals.length === 0) throw new UsageError("give the device's IMEI (both, for a dual-SIM phone)");
    if (positionals.length > 2) throw new UsageError(`one device a report: at most two IMEIs (dual SIM); got ${positionals.length}`);
    for (const imei of positionals) {
      const parsed = parseDevice(imei, "IMEI");
      if (!parsed.ok) throw new UsageError(parsed.error.message);
    }
    const caseReference = required(values.case?.trim(), "case");
    const reason = enumFlag(Reason, values.reason, "reason", REASONS) as Reason;
    const status = enumFlag(DeviceStatus, values.status ?? "prohibited", "status", STATUSES) as DeviceStatus;
    let occurredAt: Date | undefined;
    if (values["occurred-at"] !== undefined) {
      occurredAt = new Date(values["occurred-at"]);
      if (!/^\d{4}-\d{2}-\d{2}/.test(values["occurred-at"]) || Number.isNaN(occurredAt.getTime())) {
        throw new UsageError(`--occurred-at: ${JSON.stringify(values["occurred-at"])} is not an ISO 8601 time such as 2026-12-01T18:30:00Z`);
      }
    }
    const timeoutMs = parseDurationMs(values.timeout ?? "10s", "timeout");
    const owner = { name: values["owner-name"] ?? "", phone: values["owner-phone"] ?? "", email: values["owner-email"] ?? "" };
    const target = await registryTargetFromFlags(values);
    const client = createClient(RegistryService, target.address, {
      ...(await tlsClientOptions(values)),
      metadata: async () => ({ authorization: `Bearer ${await target.token()}` }),
    });
    try {
      const response = await client.reportDevice(
        {
          imeis: positionals,
          status,
          reason,
          caseReference,
          sourceReasonCode: values["source-reason-code"] ?? "",
          make: values.make ?? "",
          model: values.model ?? "",
          ...(occurredAt ? { occurredAt: timestampFromDate(occurredAt) } : {}),
          ...(values["crime-ref"] ? { verification: { crimeReference: values["crime-ref"] } } : {}),
          ...(owner.name || owner.phone || owner.email ? { ownerContact: owner } : {}),
        },
        { deadline: timeoutMs },
      );
      console.log(values.json ? toJsonString(ReportDeviceResponseSchema, response, { prettySpaces: 2 }) : formatReport(response, target.country));
      return EXIT_OK;
    } finally {
      client.close();
    }
  },
};
