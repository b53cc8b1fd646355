/**
 * `imeifed clear IMEI`: the agency that reported a device makes it PERMITTED
 * again in its registry (RegistryService.ClearDevice) when it is recovered,
 * returned, or was reported in error. Only the reporting agency (or the
 * registry's administrator) may clear; anyone else is refused, and told so.
 */
import { toJsonString } from "@bufbuild/protobuf";
import { mask, parseDevice } from "../../device/index.js";
import { ClearReason, DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { ClearDeviceResponseSchema, RegistryService, type ClearDeviceResponse } from "../../gen/imeifed/v1/registry_pb.js";
import { createClient } from "../../rpc/index.js";
import { parseDurationMs, parseFlags } from "../args.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";
import { enumFlag } from "../enum-flag.js";
import { REGISTRY_TARGET_FLAGS, REGISTRY_TARGET_USAGE, registryTargetFromFlags } from "../registry-target.js";
import { TLS_FLAGS, TLS_USAGE, tlsClientOptions } from "../tls-flags.js";

const REASONS = ["RECOVERED", "RETURNED", "REPORTED_IN_ERROR", "RESOLVED"] as const;

const USAGE = `usage: imeifed clear IMEI --reason REASON [--case REF] [--note TEXT]
                     (--registry ADDR --token FILE | --demo DIR --as ID [--country CC])
                     [--json]

Clears your report of a device in your home registry (ClearDevice): the device
becomes PERMITTED again unless another agency's open record still holds it.
Only the agency that reported it (or the registry's administrator) may clear.

  IMEI                  any IMEI of the device (either, for a dual-SIM phone)
  --reason REASON       recovered, returned, reported-in-error or resolved (required)
  --case REF            the case to clear (default: every open case of yours on the device)
  --note TEXT           kept with the clearing
  --json                print the answer as JSON (protobuf JSON mapping)
  --timeout DURATION    how long to wait for the answer (default 10s)
${REGISTRY_TARGET_USAGE}
${TLS_USAGE}

Exit status: 0 cleared, 1 error (for example PERMISSION_DENIED: you hold no open
record of the device there), 64 usage error.`;

/** The answer as a person reads it. */
export function formatClear(response: ClearDeviceResponse, country: string | undefined): string {
  const device = mask(response.device?.imei ?? response.device?.deviceKey ?? "");
  const status = DeviceStatus[response.status] ?? "UNSPECIFIED";
  const lines = [`cleared${country ? ` in ${country}` : ""}: ${device}  records ${response.clearedRecordIds.join(", ")}  sequence ${response.sequence}`];
  lines.push(`status now ${status}${response.status !== DeviceStatus.PERMITTED ? " (another agency's open record still holds it)" : ""}`);
  return lines.join("\n");
}

export const command: Command = {
  summary: "clear your report of a device (recovered, returned, reported in error)",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      ...REGISTRY_TARGET_FLAGS,
      ...TLS_FLAGS,
      reason: { type: "string" },
      case: { type: "string" },
      note: { type: "string" },
      json: { type: "boolean" },
      timeout: { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "give the IMEI of the device to clear" : `one IMEI at a time; got ${positionals.join(" ")}`);
    const parsed = parseDevice(positionals[0]!, "IMEI");
    if (!parsed.ok) throw new UsageError(parsed.error.message);
    const reason = enumFlag(ClearReason, values.reason, "reason", REASONS) as ClearReason;
    const timeoutMs = parseDurationMs(values.timeout ?? "10s", "timeout");
    const target = await registryTargetFromFlags(values);
    const client = createClient(RegistryService, target.address, {
      ...(await tlsClientOptions(values)),
      metadata: async () => ({ authorization: `Bearer ${await target.token()}` }),
    });
    try {
      const response = await client.clearDevice({ imei: positionals[0]!, caseReference: values.case?.trim() ?? "", reason, note: values.note ?? "" }, { deadline: timeoutMs });
      console.log(values.json ? toJsonString(ClearDeviceResponseSchema, response, { prettySpaces: 2 }) : formatClear(response, target.country));
      return EXIT_OK;
    } finally {
      client.close();
    }
  },
};

