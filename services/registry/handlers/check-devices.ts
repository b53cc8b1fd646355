/**
 * CheckDevice and CheckDevices: the gateway's hot path. A batch is parsed,
 * answered from one indexed query over its distinct keys, and returned in
 * request order, each answer carrying how long it may be kept.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { DeviceStatus, type Finding } from "../../../gen/imeifed/v1/device_pb.js";
import type { CheckDeviceRequest, CheckDevicesRequest, CheckDevicesResponseSchema, CheckDevicesStreamRequest, DeviceCheckSchema, RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError, invalidArgument, unauthenticated } from "../../../errors/index.js";
import { requireDevice, type DeviceKey } from "../../../device/index.js";
import type { CallContext, HandlerFor } from "../../../rpc/index.js";
import { requesterOf } from "../../../trust/principal.js";
import { auditDetails, batchDigestOfKeyNumbers, messageAuditor, type AuditDetails } from "../../../trust/audit/index.js";
import { assertSharedWith, sharedFinding, type FindingAudience } from "../finding-of.js";
import { shuttingDown, type RegistryContext } from "../registry-context.js";
import { answerBatches } from "../batch-stream.js";
import { tracedMessage } from "../../../observability/message-tracing.js";
import { callerOf } from "../../../trust/principal.js";
import { holdingRecord } from "../store/holding-record.js";
import { requirePurpose } from "../../../trust/purpose.js";
import { batchKeys } from "../batch-keys.js";
import { listedPositions } from "../listed-positions.js";

type DeviceCheckInit = MessageInitShape<typeof DeviceCheckSchema>;
type CheckDevicesAnswer = MessageInitShape<typeof CheckDevicesResponseSchema>;

function audienceOf(rc: RegistryContext, ctx: CallContext): FindingAudience {
  const audience = { country: rc.country, requester: requesterOf(callerOf(ctx)), policy: rc.sharing, caseTokenSecret: rc.store.caseTokenSecret };
  assertSharedWith(audience);
  return audience;
}

export interface ListedChecks {
  checks: DeviceCheckInit[];
  indexes: number[];
  cacheMaxAge: { seconds: bigint };
}

/**
 * The answers of a batch that are not a plain PERMITTED: the listed keys'
 * checks (duplicates included, each at its own position) and those positions,
 * ascending; every other key is PERMITTED for `cacheMaxAge`. The store is
 * asked about the keys as they come (duplicates cost the query nothing: it
 * matches keys, it does not return one row per asked key), and only listed
 * keys build a finding, so a batch of clean keys allocates nothing per key.
 */
export async function listedChecks(rc: RegistryContext, keys: readonly DeviceKey[], audience: FindingAudience, numbers?: Float64Array): Promise<ListedChecks> {
  const open = await rc.store.openRecords(keys);
  const cacheMaxAge = { seconds: BigInt(rc.cacheMaxAgeSec) };
  const checks: DeviceCheckInit[] = [];
  if (open.size === 0) return { checks, indexes: [], cacheMaxAge };
  const findings = new Map<DeviceKey, Finding>();
  await Promise.all(
    [...open].map(async ([key, records]) => {
      const holding = holdingRecord(records)!;
      findings.set(key, sharedFinding(holding, await rc.attestations.forRecord(holding), audience));
    }),
  );
  // By the keys' numbers when the caller has them (a batch): a Map lookup per key would hash every fresh key string.
  const indexes = numbers ? listedPositions(numbers, Array.from(findings.keys(), Number)) : keys.flatMap((key, i) => (findings.has(key) ? [i] : []));
  for (const i of indexes) {
    const key = keys[i]!;
    const finding = findings.get(key)!;
    checks.push({ deviceKey: key, status: finding.status, finding, cacheMaxAge });
  }
  return { checks, indexes, cacheMaxAge };
}

/** Answers each key (duplicates included) in order: the listed checks where they stand, a PERMITTED check (three fields sharing one cache_max_age) everywhere else. */
export async function checkKeys(rc: RegistryContext, keys: readonly DeviceKey[], audience: FindingAudience): Promise<DeviceCheckInit[]> {
  const { checks: listed, indexes, cacheMaxAge } = await listedChecks(rc, keys, audience);
  const count = keys.length;
  const checks = new Array<DeviceCheckInit>(count);
  let next = 0;
  for (let i = 0; i < count; i++) {
    checks[i] = next < indexes.length && indexes[next] === i ? listed[next++]! : { deviceKey: keys[i]!, status: DeviceStatus.PERMITTED, cacheMaxAge };
  }
  return checks;
}

/**
 * The audit verdict of a batch: `STATUS:count` per status, in the order each
 * first appears, computed from the listed checks alone (every other of the
 * `count` answers is PERMITTED), so a sparse and a full answer are audited alike.
 */
export function tallyOf(count: number, listed: readonly DeviceCheckInit[], indexes: readonly number[]): string {
  const counts: number[] = [];
  const order: number[] = [];
  const add = (status: number, n: number) => {
    if (counts[status] === undefined) {
      counts[status] = n;
      order.push(status);
    } else {
      counts[status] += n;
    }
  };
  // The first unlisted position: where PERMITTED first appears.
  let firstPermitted = 0;
  while (firstPermitted < indexes.length && indexes[firstPermitted] === firstPermitted) firstPermitted++;
  const permitted = count - listed.length;
  for (let j = 0; j < listed.length; j++) {
    if (permitted > 0 && j === firstPermitted) add(DeviceStatus.PERMITTED, permitted);
    add(listed[j]!.status as number, 1);
  }
  if (permitted > 0 && firstPermitted === listed.length) add(DeviceStatus.PERMITTED, permitted);
  return order.map((status) => `${DeviceStatus[status as DeviceStatus] ?? "UNKNOWN"}:${counts[status]}`).join(" ");
}

export function checkDevice(rc: RegistryContext): HandlerFor<typeof RegistryService.method.checkDevice> {
  return async (request: CheckDeviceRequest, ctx: CallContext) => {
    const audience = audienceOf(rc, ctx);
    const device = requireDevice(request.imei, "imei");
    const audit = auditDetails(ctx);
    audit.deviceKey = device.key;
    audit.purpose = requirePurpose(request.purpose);
    const [check] = await checkKeys(rc, [device.key], audience);
    audit.verdict = DeviceStatus[check!.status as DeviceStatus];
    return { check: check! };
  };
}

/**
 * One CheckDevices question, asked by a call or by a stream message: the batch
 * limit, the keys, the caller's device quota, the answers (sparse when the
 * request asks for `listed_only`, in full otherwise), and what the audit
 * entry says about it (written into `audit`), the same for either shape.
 */
async function answerBatch(rc: RegistryContext, request: CheckDevicesRequest, audience: FindingAudience, callerId: string, audit: AuditDetails): Promise<CheckDevicesAnswer> {
  const count = request.imeis.length;
  if (count > rc.batchLimit) {
    // INVALID_ARGUMENT rather than RESOURCE_EXHAUSTED: the same batch will never pass, only a smaller one.
    throw invalidArgument("imeis", "BATCH_TOO_LARGE", `holds ${count} IMEIs; this registry answers at most ${rc.batchLimit} per call: split the batch`);
  }
  const { keys, numbers } = batchKeys(request.imeis, "imeis");
  audit.batchDigest = batchDigestOfKeyNumbers(numbers);
  audit.batchSize = count;
  audit.purpose = requirePurpose(request.purpose);
  rc.quota?.takeDevices(callerId, count);
  const { checks, indexes, cacheMaxAge } = await listedChecks(rc, keys, audience, numbers);
  audit.verdict = tallyOf(count, checks, indexes);
  if (request.listedOnly) return { checks, listedIndexes: indexes, unlistedCacheMaxAge: cacheMaxAge };
  const full = new Array<DeviceCheckInit>(count);
  let next = 0;
  for (let i = 0; i < count; i++) {
    full[i] = next < indexes.length && indexes[next] === i ? checks[next++]! : { deviceKey: keys[i]!, status: DeviceStatus.PERMITTED, cacheMaxAge };
  }
  return { checks: full };
}

export function checkDevices(rc: RegistryContext): HandlerFor<typeof RegistryService.method.checkDevices> {
  return async (request: CheckDevicesRequest, ctx: CallContext) => {
    const audience = audienceOf(rc, ctx);
    return answerBatch(rc, request, audience, callerOf(ctx).principal.id, auditDetails(ctx));
  };
}

/**
 * CheckDevicesStream: the same questions as CheckDevices, as messages on one
 * stream. The caller was authenticated when the stream opened; each message
 * is checked against that token's expiry, answered under the same sharing
 * policy, quota and batch limit, and audited as its own entry (the call-level
 * audit sees only the stream).
 */
export function checkDevicesStream(rc: RegistryContext): HandlerFor<typeof RegistryService.method.checkDevicesStream> {
  return (requests: AsyncIterable<CheckDevicesStreamRequest>, ctx: CallContext) => {
    const caller = callerOf(ctx);
    const audience = audienceOf(rc, ctx);
    const record = messageAuditor(ctx);
    const answer = (batch: CheckDevicesRequest, message: CheckDevicesStreamRequest) => tracedMessage(ctx, message.traceContext, async () => {
      const at = new Date();
      const audit: AuditDetails = {};
      let answered;
      try {
        answered = await answerBatch(rc, batch, audience, caller.principal.id, audit);
      } catch (error) {
        // As for a call: a question that got as far as naming its devices is recorded, failed or not.
        if (audit.batchDigest !== undefined) await record(audit, ImeifedError.from(error).code, at);
        throw error;
      }
      // Answered only once recorded: a failing audit store fails the question (UNAVAILABLE), as it fails a call.
      await record(audit, Code.OK, at);
      return answered;
    });
    const admit = () => {
      if (rc.closing()) throw shuttingDown();
      if (rc.now() >= caller.expiresAt * 1000) throw unauthenticated("TOKEN_EXPIRED", "the token this stream was opened with has expired; open a new stream with a fresh token");
    };
    return answerBatches(requests, answer, { admit, where: "RegistryService/CheckDevicesStream" });
  };
}
