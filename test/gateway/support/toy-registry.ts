/**
 * A small in-memory RegistryService on a real socket, for gateway tests that
 * need to steer a registry precisely (delay it, fail it, refuse a requester,
 * count its calls and batch sizes). It authenticates with real tokens from the
 * trust fixture, so the gateway's delegated calls are checked for real. The
 * end-to-end tests use the real registry (test/support/registry-fixture.ts).
 */
import { EventEmitter, once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampNow } from "@bufbuild/protobuf/wkt";
import { requireDevice } from "../../../device/index.js";
import { Code, ImeifedError } from "../../../errors/index.js";
import { DeviceStatus, FindingSchema, Reason, type Finding } from "../../../gen/imeifed/v1/device_pb.js";
import { ChangeKind, ChangeSchema, RegistryService, type Change, type CheckDevicesRequest } from "../../../gen/imeifed/v1/registry_pb.js";
import { answerBatches } from "../../../services/registry/batch-stream.js";
import { hosted, startHost, type CallContext, type ServiceImpl } from "../../../rpc/index.js";
import { CALLER, requesterOf } from "../../../trust/principal.js";
import type { TestTrust } from "../../support/trust-fixture.js";
import { STREAM_EXPIRED } from "../../../trust/stream-expired.js";

export interface ToyRegistryOptions {
  country: string;
  trust: TestTrust;
  listen?: string;
  /** Refused above this many devices per CheckDevices. */
  batchLimit?: number;
  cacheMaxAgeMs?: number;
  epoch?: string;
  /** False: no CheckDevicesStream (UNIMPLEMENTED), as a registry from before it. Default true. */
  streams?: boolean;
  /** True: answers a `listed_only` CheckDevices sparsely, as the real registry does. Default false: in full, as a registry from before the flag. */
  sparse?: boolean;
  /** False: no RecordSightings (UNIMPLEMENTED), as a registry from before it; sightings then come one a RecordSighting call. Default true. */
  batchSightings?: boolean;
  /** Ends every WatchChanges after this long with UNAUTHENTICATED STREAM_EXPIRED, as a registry does when the token it was opened with expires. */
  watchLifetimeMs?: number;
}

export interface ToyCall {
  method: "CheckDevice" | "CheckDevices";
  keys: string[];
  purpose: string;
  actor: string | undefined;
  /** How the question travelled: its own call, or a message on a CheckDevicesStream. */
  via: "call" | "stream";
  /** Whether the question asked for a sparse answer (CheckDevicesRequest.listed_only). */
  listedOnly: boolean;
}

function unimplemented(): never {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "not in the toy registry");
}

// eslint-disable-next-line require-yield
async function* unimplementedStream(): AsyncIterable<never> {
  unimplemented();
}

/** Starts a toy registry for `country`, its principal `registry-<cc>`. */
export async function startToyRegistry(options: ToyRegistryOptions) {
  const country = options.country;
  const id = `registry-${country.toLowerCase()}`;
  const listed = new Map<string, Finding>();
  const changes: Change[] = [];
  let watchOpens = 0;
  const wake = new EventEmitter();
  wake.setMaxListeners(0);
  const calls: ToyCall[] = [];
  const sightingCalls: { method: "RecordSighting" | "RecordSightings"; imeis: string[] }[] = [];
  const refused = new Set<string>();
  let epoch = options.epoch ?? `epoch-${country}-1`;
  let delayMs = 0;
  let failure: ImeifedError | undefined;
  let failCall: ((call: ToyCall, index: number) => ImeifedError | undefined) | undefined;
  let hang = false;

  const checkOf = (key: string) => {
    const finding = listed.get(key);
    return {
      deviceKey: key,
      status: finding ? finding.status : DeviceStatus.PERMITTED,
      ...(finding ? { finding } : {}),
      cacheMaxAge: durationFromMs(options.cacheMaxAgeMs ?? 3_600_000),
    };
  };

  async function admit(ctx: CallContext, method: ToyCall["method"], keys: string[], purpose: string, listedOnly = false): Promise<void> {
    const caller = ctx.values.get(CALLER)!;
    const requester = requesterOf(caller);
    const call: ToyCall = { method, keys, purpose, actor: caller.actor?.id, via: ctx.methodKind === "unary" ? "call" : "stream", listedOnly };
    calls.push(call);
    const failsThis = failCall?.(call, calls.length - 1);
    if (hang) await sleep(60_000, undefined, { signal: ctx.signal }).catch(() => undefined);
    if (delayMs > 0) await sleep(delayMs);
    if (failure) throw failure;
    if (failsThis) throw failsThis;
    if (refused.has(requester.id)) throw new ImeifedError(Code.PERMISSION_DENIED, "SHARING_REFUSED", `${country} shares nothing with ${requester.id}`);
  }

  async function answerBatch(request: CheckDevicesRequest, ctx: CallContext) {
    const limit = options.batchLimit ?? 10_000;
    if (request.imeis.length > limit) throw new ImeifedError(Code.INVALID_ARGUMENT, "BATCH_TOO_LARGE", `imeis: at most ${limit} per call`);
    const keys = request.imeis.map((imei, i) => requireDevice(imei, `imeis[${i}]`).key);
    await admit(ctx, "CheckDevices", keys, request.purpose, request.listedOnly);
    if (!(options.sparse && request.listedOnly)) return { checks: keys.map(checkOf) };
    const listedIndexes = keys.flatMap((key, i) => (listed.has(key) ? [i] : []));
    return { checks: listedIndexes.map((i) => checkOf(keys[i]!)), listedIndexes, unlistedCacheMaxAge: durationFromMs(options.cacheMaxAgeMs ?? 3_600_000) };
  }

  const impl: ServiceImpl<typeof RegistryService> = {
    async checkDevice(request, ctx) {
      const key = requireDevice(request.imei).key;
      await admit(ctx, "CheckDevice", [key], request.purpose);
      return { check: checkOf(key) };
    },
    checkDevices: (request, ctx) => answerBatch(request, ctx),
    // Each message is recorded as one CheckDevices question (that is what it is), so tests count questions however they travelled.
    checkDevicesStream: (requests, ctx) => (options.streams === false ? unimplementedStream() : answerBatches(requests, (batch) => answerBatch(batch, ctx))),
    async *watchChanges(request, ctx) {
      watchOpens++;
      if ((request.epoch !== "" && request.epoch !== epoch) || request.afterSequence > BigInt(changes.length)) {
        throw new ImeifedError(Code.FAILED_PRECONDITION, "EPOCH_CHANGED", "resume from 0");
      }
      let next = Number(request.afterSequence);
      const mine = epoch;
      const aborted = once(ctx.signal, "abort").catch(() => undefined);
      const lifetime = options.watchLifetimeMs === undefined ? undefined : sleep(options.watchLifetimeMs).then(() => "expired" as const);
      let caughtUp = false;
      while (!ctx.signal.aborted) {
        if (mine !== epoch) throw new ImeifedError(Code.FAILED_PRECONDITION, "EPOCH_CHANGED", "resume from 0");
        while (next < changes.length) yield { epoch, event: { case: "change", value: changes[next++]! } };
        if (!caughtUp) {
          caughtUp = true;
          yield { epoch, event: { case: "caughtUp", value: { sequence: BigInt(changes.length) } } };
        }
        if ((await Promise.race([once(wake, "change"), aborted, lifetime ?? aborted])) === "expired") {
          throw new ImeifedError(Code.UNAUTHENTICATED, STREAM_EXPIRED, "the token this stream was opened with expired");
        }
      }
    },
    async getKeys() {
      return { jwksJson: JSON.stringify({ keys: [{ kid: `${id}-k1`, kty: "EC" }] }), country };
    },
    reportDevice: async () => unimplemented(),
    clearDevice: async () => unimplemented(),
    async recordSighting(request) {
      sightingCalls.push({ method: "RecordSighting", imeis: [request.imei] });
      return { recorded: listed.has(requireDevice(request.imei).key), sequence: 0n };
    },
    async recordSightings(request) {
      if (options.batchSightings === false) unimplemented();
      sightingCalls.push({ method: "RecordSightings", imeis: request.sightings.map((s) => s.imei) });
      return { results: request.sightings.map((s) => ({ recorded: listed.has(requireDevice(s.imei).key), sequence: 0n })) };
    },
    // eslint-disable-next-line require-yield
    async *watchSightings() {
      unimplemented();
    },
  };

  const authenticator = options.trust.authenticator(id, { CheckDevice: "devices:check", CheckDevices: "devices:check", CheckDevicesStream: "devices:check", WatchChanges: "devices:watch", RecordSighting: "devices:found", RecordSightings: "devices:found", GetKeys: "public" });
  const host = await startHost({ listen: options.listen ?? "127.0.0.1:0", services: [hosted(RegistryService, impl)], interceptors: [authenticator] });

  function change(key: string, kind: ChangeKind, finding: Finding | undefined): void {
    changes.push(create(ChangeSchema, { sequence: BigInt(changes.length + 1), kind, deviceKey: key, status: finding?.status ?? DeviceStatus.PERMITTED, ...(finding ? { finding } : {}), changedAt: timestampNow() }));
    wake.emit("change");
  }

  return {
    country,
    id,
    address: host.address,
    port: host.port,
    calls,
    /** The sighting calls it answered, with the IMEIs each carried. */
    sightingCalls,
    /** How many WatchChanges streams were opened. */
    get watchOpens(): number {
      return watchOpens;
    },
    /** Lists a device (PROHIBITED by default) and appends the change, unless `silently`. */
    list(imei: string, status: DeviceStatus = DeviceStatus.PROHIBITED, silently = false): string {
      const key = requireDevice(imei).key;
      const finding = create(FindingSchema, { country, deviceKey: key, status, reason: Reason.STOLEN, reportedAt: timestampNow(), reportingAgency: `police-${country.toLowerCase()}`, verified: true });
      listed.set(key, finding);
      if (!silently) change(key, ChangeKind.REPORTED, finding);
      return key;
    },
    clear(imei: string): void {
      const key = requireDevice(imei).key;
      listed.delete(key);
      change(key, ChangeKind.CLEARED, undefined);
    },
    /** Starts numbering again under a new epoch (a restored database). */
    newEpoch(): void {
      epoch = `${epoch}+`;
      changes.length = 0;
      wake.emit("change");
    },
    setDelay(ms: number): void {
      delayMs = ms;
    },
    /** Every call fails with this error until set back to undefined. */
    fail(error: ImeifedError | undefined): void {
      failure = error;
    },
    /** Fails the calls `rule` picks (by the call and its 0-based index in `calls`); undefined stops it. */
    failCall(rule: ((call: ToyCall, index: number) => ImeifedError | undefined) | undefined): void {
      failCall = rule;
    },
    /** Calls hang (until their deadline or cancellation). */
    hang(on: boolean): void {
      hang = on;
    },
    refuse(requesterId: string): void {
      refused.add(requesterId);
    },
    /** Device keys asked about by CheckDevice(s), in order. */
    askedKeys(): string[] {
      return calls.flatMap((c) => c.keys);
    },
    shutdown: () => host.shutdown(100),
  };
}

export type ToyRegistry = Awaited<ReturnType<typeof startToyRegistry>>;
