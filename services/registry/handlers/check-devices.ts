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
import { batchKeys } from "../batch-keys.js";

type DeviceCheckInit = MessageInitShape<typeof DeviceCheckSchema>;

function audienceOf(rc: RegistryContext, ctx: CallContext): FindingAudience {
  const audience = { country: rc.country, requester: requesterOf(callerOf(ctx)), policy: rc.sharing, caseTokenSecret: rc.store.caseTokenSecret };
  assertSharedWith(audience);
  return audience;
}

function purposeOf(purpose: string): string {
  if (purpose.length > PURPOSE_LIMIT) throw invalidArgument("purpose", "TOO_LONG", `is ${purpose.length} characters long; give a case or declaration reference of at most ${PURPOSE_LIMIT}`);
  return purpose;
}

/**
 * Answers each key (duplicates included) in order. The store is asked about
 * the keys as they come (duplicates cost the query nothing: it matches keys,
 * it does not return one row per asked key), and only listed keys build a
 * finding; a PERMITTED answer is three fields sharing one cache_max_age.
 */
export async function checkKeys(rc: RegistryContext, keys: readonly DeviceKey[], audience: FindingAudience): Promise<DeviceCheckInit[]> {
  const open = await rc.store.openRecords(keys);
  const findings = new Map<DeviceKey, Finding>();
  if (open.size > 0) {
    await Promise.all(
      [...open].map(async ([key, records]) => {
        const holding = holdingRecord(records)!;
        findings.set(key, sharedFinding(holding, await rc.attestations.forRecord(holding), audience));
      }),
    );
  }
  const cacheMaxAge = { seconds: BigInt(rc.cacheMaxAgeSec) };
  const count = keys.length;
  const checks = new Array<DeviceCheckInit>(count);
  for (let i = 0; i < count; i++) {
    const key = keys[i]!;
    const finding = findings.size > 0 ? findings.get(key) : undefined;
    checks[i] = finding ? { deviceKey: key, status: finding.status, finding, cacheMaxAge } : { deviceKey: key, status: DeviceStatus.PERMITTED, cacheMaxAge };
  }
  return checks;
}

/** The audit verdict of a batch: `STATUS:count` per status, in the order each first appears. */
function tallyOf(checks: readonly DeviceCheckInit[]): string {
  const counts: number[] = [];
  const order: number[] = [];
  for (let i = 0; i < checks.length; i++) {
    const status = checks[i]!.status as number;
    if (counts[status] === undefined) {
      counts[status] = 1;
      order.push(status);
    } else {
      counts[status]++;
    }
  }
  return order.map((status) => `${DeviceStatus[status as DeviceStatus] ?? "UNKNOWN"}:${counts[status]}`).join(" ");
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
    const keys = batchKeys(request.imeis, "imeis");
    const audit = auditDetails(ctx);
    audit.batchDigest = batchDigest(keys);
    audit.batchSize = count;
    audit.purpose = purposeOf(request.purpose);
    rc.quota?.takeDevices(callerOf(ctx).principal.id, count);
    const checks = await checkKeys(rc, keys, audience);
    audit.verdict = tallyOf(checks);
    return { checks };
  };
}
