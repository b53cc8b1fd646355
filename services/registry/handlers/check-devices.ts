/**
 * CheckDevice and CheckDevices: the gateway's hot path. A batch is parsed,
 * answered from one indexed query over its distinct keys, and returned in
 * request order, each answer carrying how long it may be kept.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { DeviceStatus, type Finding } from "../../../gen/imeifed/v1/device_pb.js";
import type { CheckDeviceRequest, CheckDevicesRequest, DeviceCheckSchema, RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { invalidArgument } from "../../../errors/index.js";
import { requireDevice, type DeviceKey } from "../../../device/index.js";
import type { CallContext, HandlerFor } from "../../../rpc/index.js";
import { requesterOf } from "../../../trust/principal.js";
import { auditDetails, batchDigest } from "../../../trust/audit/index.js";
import { assertSharedWith, sharedFinding, type FindingAudience } from "../finding-of.js";
import { type RegistryContext } from "../registry-context.js";
import { callerOf } from "../../../trust/principal.js";
import { holdingRecord } from "../store/holding-record.js";
import { PURPOSE_LIMIT } from "../../../trust/purpose.js";

type DeviceCheckInit = MessageInitShape<typeof DeviceCheckSchema>;

/** The longest purpose kept in the audit log. */

function audienceOf(rc: RegistryContext, ctx: CallContext): FindingAudience {
  const audience = { country: rc.country, requester: requesterOf(callerOf(ctx)), policy: rc.sharing, caseTokenSecret: rc.store.caseTokenSecret };
  assertSharedWith(audience);
  return audience;
}

function purposeOf(purpose: string): string {
  if (purpose.length > PURPOSE_LIMIT) throw invalidArgument("purpose", "TOO_LONG", `is ${purpose.length} characters long; give a case or declaration reference of at most ${PURPOSE_LIMIT}`);
  return purpose;
}

/** Answers each key (duplicates included) in order. */
export async function checkKeys(rc: RegistryContext, keys: readonly DeviceKey[], audience: FindingAudience): Promise<DeviceCheckInit[]> {
  const open = await rc.store.openRecords([...new Set(keys)]);
  const findings = new Map<DeviceKey, Finding>();
  await Promise.all(
    [...open].map(async ([key, records]) => {
      const holding = holdingRecord(records)!;
      findings.set(key, sharedFinding(holding, await rc.attestations.forRecord(holding), audience));
    }),
  );
  const cacheMaxAge = { seconds: BigInt(rc.cacheMaxAgeSec) };
  return keys.map((key) => {
    const finding = findings.get(key);
    return finding ? { deviceKey: key, status: finding.status, finding, cacheMaxAge } : { deviceKey: key, status: DeviceStatus.PERMITTED, cacheMaxAge };
  });
}

export function checkDevice(rc: RegistryContext): HandlerFor<typeof RegistryService.method.checkDevice> {
  return async (request: CheckDeviceRequest, ctx: CallContext) => {
    const audience = audienceOf(rc, ctx);
    const device = requireDevice(request.imei, "imei");
    const audit = auditDetails(ctx);
    audit.deviceKey = device.key;
    audit.purpose = purposeOf(request.purpose);
    const [check] = await checkKeys(rc, [device.key], audience);
    audit.verdict = DeviceStatus[check!.status as DeviceStatus];
    return { check: check! };
  };
}

export function checkDevices(rc: RegistryContext): HandlerFor<typeof RegistryService.method.checkDevices> {
  return async (request: CheckDevicesRequest, ctx: CallContext) => {
    const audience = audienceOf(rc, ctx);
    const count = request.imeis.length;
    if (count > rc.batchLimit) {
      // INVALID_ARGUMENT rather than RESOURCE_EXHAUSTED: the same batch will never pass, only a smaller one.
      throw invalidArgument("imeis", "BATCH_TOO_LARGE", `holds ${count} IMEIs; this registry answers at most ${rc.batchLimit} per call: split the batch`);
    }
    const keys = new Array<DeviceKey>(count);
    for (let i = 0; i < count; i++) keys[i] = requireDevice(request.imeis[i]!, `imeis[${i}]`).key;
    const audit = auditDetails(ctx);
    audit.batchDigest = batchDigest(keys);
    audit.batchSize = count;
    audit.purpose = purposeOf(request.purpose);
    rc.quota?.takeDevices(callerOf(ctx).principal.id, count);
    const checks = await checkKeys(rc, keys, audience);
    const tally = new Map<string, number>();
    for (const check of checks) {
      const name = DeviceStatus[check.status as DeviceStatus] ?? "UNKNOWN";
      tally.set(name, (tally.get(name) ?? 0) + 1);
    }
    audit.verdict = [...tally].map(([k, v]) => `${k}:${v}`).join(" ");
    return { checks };
  };
}
