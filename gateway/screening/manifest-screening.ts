/**
 * Screens a manifest's items as they arrive and streams what it finds, with
 * memory that stays flat however long the manifest is.
 *
 * The flow: item batches are gathered (or cut) into chunks of `chunkSize`
 * items, so a manifest sent 1,000 items a message still reaches each registry
 * in calls of its batch limit; each chunk is parsed (MALFORMED),
 * checked against the items before it (DUPLICATE) and against the TAC data
 * (MODEL_MISMATCH) at once, in manifest order, then its valid devices go to the
 * registries through the gateway's one upstream path (`checkMany`: cache,
 * batching, deadlines, breakers). At most `maxChunksInFlight` chunks wait on
 * the registries; results leave in manifest order. This is an async generator:
 * it reads the next batch only when the caller's stream has taken what came
 * before (the rpc adapter waits for `drain` before asking for more) and a chunk
 * slot is free, so a slow reader slows the reading of the manifest instead of
 * filling memory.
 *
 * One outcome per item, so the counts add up to the items screened. When an
 * item could carry several, the first of MALFORMED, DUPLICATE, PROHIBITED,
 * TRACKED, MODEL_MISMATCH, UNANSWERED, CLEAR wins; a listed device's finding
 * still names a make mismatch in its detail. A DUPLICATE is not checked again:
 * its first occurrence was.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import {
  ScreeningOutcome,
  type ManifestItem,
  type RegistryFinding,
  type ScreenResponseSchema,
  type Unanswered,
  type UnansweredPolicy,
} from "../../gen/imeifed/v1/federation_pb.js";
import { deviceFromKey, parseDevice, type Device, type DeviceKey, type TacDatabase } from "../../device/index.js";
import type { Actor } from "../../trust/principal.js";
import { makesAgree } from "../../manifest/declared-make.js";
import { manifestBatchOf, type ManifestBatch } from "./manifest-batch.js";
import { SeenDevices } from "./seen-devices.js";
import { isOutage, ScreeningTally } from "./screening-tally.js";

/** A response the screening stream sends (an init shape: the rpc adapter builds the message). */
export type ScreenResponseInit = MessageInitShape<typeof ScreenResponseSchema>;

/**
 * What the registries said about a chunk's devices, by position: their
 * findings and who did not answer. Read by position, so the gateway needs no
 * answer object per device (nearly every one has neither).
 */
export interface ChunkAnswers {
  findingsAt(i: number): readonly RegistryFinding[];
  unansweredAt(i: number): readonly Unanswered[];
}

/** How screening asks the registries (the gateway's FederationChecker.checkBulkAnswers fits); `keyNumbers` holds the same keys as numbers. */
export type CheckMany = (keys: readonly DeviceKey[], opts: { deadline: Date; requester: Actor; purpose: string }, keyNumbers: Float64Array) => Promise<ChunkAnswers>;

/** Told about every PROHIBITED or TRACKED item (the tripwire). */
export type ScreeningHit = (device: Device, findings: readonly RegistryFinding[]) => void;

export interface ManifestScreeningOptions {
  checkMany: CheckMany;
  tac?: Pick<TacDatabase, "lookup"> | undefined;
  requester: Actor;
  /** The declaration reference: the purpose of every registry question. */
  declarationReference: string;
  onUnanswered: UnansweredPolicy;
  /** The deadline for one chunk's registry answers (called when the chunk starts). */
  chunkDeadline: () => Date;
  /** Items checked together: batches are gathered or cut to this size (the gateway passes its smallest registry batch limit). */
  chunkSize?: number;
  /** Chunks waiting on the registries at once; bounds memory and upstream load. */
  maxChunksInFlight?: number;
  /** A progress message after this many items ... */
  progressEveryItems?: number;
  /** ... or after this long, whichever comes first. */
  progressEveryMs?: number;
  /** Waits until the caller may screen `n` more devices (its devices/s quota); throws to refuse. */
  takeDevices?: ((n: number) => Promise<void>) | undefined;
  onHit?: ScreeningHit | undefined;
  /** Told how many items got each outcome, chunk by chunk (the gateway's `screened` metric: its rate is the screening throughput). */
  onScreened?: ((outcome: ScreeningOutcome, items: number) => void) | undefined;
  /** Told of the devices each chunk checks, in manifest order, as their keys' numbers (the audit's digest). */
  onDevices?: ((keyNumbers: Float64Array) => void) | undefined;
  now?: () => number;
}

/** Defaults, chosen so a chunk fills one upstream batch and four keep every registry busy. */
export const SCREENING_DEFAULTS = {
  chunkSize: 1_000,
  maxChunksInFlight: 4,
  progressEveryItems: 10_000,
  progressEveryMs: 1_000,
} as const;

/** A run of one batch's items, `from` to `to` (exclusive). */
interface ChunkPart {
  readonly batch: ManifestBatch;
  readonly from: number;
  readonly to: number;
}

/** Items screened together: consecutive runs of the caller's batches, `length` items from manifest index `start`. */
interface Chunk {
  readonly start: number;
  readonly parts: readonly ChunkPart[];
  readonly length: number;
}

/** The item at `offset` in a chunk, as a message (for a finding). */
function itemOf(chunk: Chunk, offset: number): ManifestItem {
  for (const part of chunk.parts) {
    const n = part.to - part.from;
    if (offset < n) return part.batch.itemAt(part.from + offset);
    offset -= n;
  }
  throw new RangeError(`no item ${offset} in a chunk of ${chunk.length}`);
}

interface ChunkResult {
  readonly responses: ScreenResponseInit[];
  readonly outcomes: Map<ScreeningOutcome, number>;
  readonly unanswered: readonly Unanswered[];
  readonly items: number;
}

/** A chunk's items sorted: findings known before asking (MALFORMED, DUPLICATE), and the devices to ask about, in parallel arrays (no object per item). */
interface Sorted {
  readonly early: { index: number; response: ScreenResponseInit; outcome: ScreeningOutcome }[];
  /** Per device to ask about: its item's offset in the chunk, and its key. */
  readonly offsets: Int32Array;
  readonly keys: DeviceKey[];
  /** The same keys as numbers (the seen-devices table and the gateway's tables key on them). */
  readonly keyNumbers: Float64Array;
  /** By device position, only where parseDevice ran (not plain digits); others build their Device from the key when they need it. */
  devices: Device[] | undefined;
  /** By device position: the declared make disagrees with the TAC's. */
  mismatches: Map<number, string> | undefined;
}

/** Shared by devices without findings or unanswered registries (read-only). */
const NO_ANSWERS: readonly never[] = Object.freeze([]);

function findingResponse(
  outcome: ScreeningOutcome,
  index: number,
  item: ManifestItem,
  detail: string,
  device?: Device,
  findings: readonly RegistryFinding[] = [],
): ScreenResponseInit {
  return {
    message: {
      case: "finding",
      value: {
        outcome,
        item,
        itemIndex: BigInt(index),
        detail,
        findings: [...findings],
        ...(device ? { device: { deviceKey: device.key, imei: device.imei, tac: device.tac, issuingBody: device.issuingBody } } : {}),
      },
    },
  };
}

function listedDetail(outcome: ScreeningOutcome, findings: readonly RegistryFinding[], mismatch: string | undefined): string {
  const status = outcome === ScreeningOutcome.PROHIBITED ? DeviceStatus.PROHIBITED : DeviceStatus.TRACKED;
  const countries = findings.filter((f) => f.finding?.status === status).map((f) => f.finding!.country + (f.stale ? " (stale)" : ""));
  const what = outcome === ScreeningOutcome.PROHIBITED ? "prohibited" : "tracked";
  return `${what} in ${countries.join(", ")}${mismatch ? `; also ${mismatch}` : ""}`;
}

/** PROHIBITED when some registry prohibits the device (prohibited wins), TRACKED when some tracks it, else undefined. */
function listedOutcome(findings: readonly RegistryFinding[]): ScreeningOutcome | undefined {
  let outcome: ScreeningOutcome | undefined;
  for (const f of findings) {
    if (f.finding?.status === DeviceStatus.PROHIBITED) return ScreeningOutcome.PROHIBITED;
    if (f.finding?.status === DeviceStatus.TRACKED) outcome = ScreeningOutcome.TRACKED;
  }
  return outcome;
}

/** Screens the item batches of one manifest (the Shipment is already read); yields findings, progress, then the summary. */
export async function* screenManifest(batches: AsyncIterator<ManifestBatch | readonly ManifestItem[]>, options: ManifestScreeningOptions): AsyncGenerator<ScreenResponseInit> {
  const chunkSize = options.chunkSize ?? SCREENING_DEFAULTS.chunkSize;
  const maxInFlight = options.maxChunksInFlight ?? SCREENING_DEFAULTS.maxChunksInFlight;
  const everyItems = options.progressEveryItems ?? SCREENING_DEFAULTS.progressEveryItems;
  const everyMs = options.progressEveryMs ?? SCREENING_DEFAULTS.progressEveryMs;
  const now = options.now ?? Date.now;
  const seen = new SeenDevices();
  const tally = new ScreeningTally();

  /** The synchronous part, run in manifest order when a chunk starts: MALFORMED, DUPLICATE, the TAC's make. */
  const sortItems = (chunk: Chunk): Sorted => {
    const { start } = chunk;
    const sorted: Sorted = { early: [], offsets: new Int32Array(chunk.length), keys: [], keyNumbers: new Float64Array(chunk.length), devices: undefined, mismatches: undefined };
    let offset = 0;
    for (const { batch, from, to } of chunk.parts) {
      for (let i = from; i < to; i++, offset++) {
        const index = start + offset;
        // Plain digits (nearly every item) are keyed without a Device; anything else goes through parseDevice, which says what is wrong.
        let keyNumber = batch.keyNumberAt(i);
        let key: DeviceKey;
        let device: Device | undefined;
        if (keyNumber >= 0) {
          key = batch.plainKeyAt(i);
        } else {
          const parsed = parseDevice(batch.deviceIdAt(i), "device_id");
          if (!parsed.ok) {
            const outcome = ScreeningOutcome.MALFORMED;
            sorted.early.push({ index, outcome, response: findingResponse(outcome, index, batch.itemAt(i), parsed.error.message) });
            continue;
          }
          device = parsed.device;
          key = device.key;
          keyNumber = Number(key);
        }
        const first = seen.firstSeen(keyNumber, index);
        if (first !== undefined) {
          const outcome = ScreeningOutcome.DUPLICATE;
          sorted.early.push({ index, outcome, response: findingResponse(outcome, index, batch.itemAt(i), `same device as item ${first} earlier in the manifest`, device ?? deviceFromKey(key)) });
          continue;
        }
        const at = sorted.keys.length;
        if (options.tac) {
          const declaredMake = batch.declaredMakeAt(i).trim();
          const tac = declaredMake === "" ? undefined : key.slice(0, 8);
          const known = tac === undefined ? undefined : options.tac.lookup(tac);
          if (known && !makesAgree(known.make, declaredMake)) {
            (sorted.mismatches ??= new Map()).set(at, `TAC ${tac} is ${known.make}${known.model ? ` ${known.model}` : ""}, declared ${JSON.stringify(declaredMake)}`);
          }
        }
        if (device) (sorted.devices ??= [])[at] = device;
        sorted.offsets[at] = offset;
        sorted.keys.push(key);
        sorted.keyNumbers[at] = keyNumber;
      }
    }
    return { ...sorted, offsets: sorted.offsets.subarray(0, sorted.keys.length), keyNumbers: sorted.keyNumbers.subarray(0, sorted.keys.length) };
  };

  const runChunk = async (chunk: Chunk): Promise<ChunkResult> => {
    const { early, offsets, keys, keyNumbers, devices, mismatches } = sortItems(chunk);
    options.onDevices?.(keyNumbers);
    let answers: ChunkAnswers | undefined;
    if (keys.length > 0) {
      await options.takeDevices?.(keys.length);
      answers = await options.checkMany(keys, { deadline: options.chunkDeadline(), requester: options.requester, purpose: options.declarationReference }, keyNumbers);
    }
    const outcomes = new Map<ScreeningOutcome, number>();
    const count = (o: ScreeningOutcome) => outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
    // CLEAR, nearly every item, is counted in a plain number: a Map update per item showed in the warm run's profile.
    let clear = 0;
    const unanswered: Unanswered[] = [];
    const seenCountries = new Set<string>();
    const results: { index: number; response: ScreenResponseInit }[] = [];
    for (const e of early) {
      count(e.outcome);
      results.push(e);
    }
    for (let j = 0; j < keys.length; j++) {
      const findings = answers ? answers.findingsAt(j) : NO_ANSWERS;
      const unansweredHere = answers ? answers.unansweredAt(j) : NO_ANSWERS;
      const mismatch = mismatches?.get(j);
      // Nearly every item: no finding, every registry answered, the make agrees. Nothing to build.
      if (findings.length === 0 && unansweredHere.length === 0 && mismatch === undefined) {
        clear++;
        continue;
      }
      for (const u of unansweredHere) {
        if (!seenCountries.has(u.country)) {
          seenCountries.add(u.country);
          unanswered.push(u);
        }
      }
      let outcome = listedOutcome(findings);
      if (outcome === undefined) {
        if (mismatch) outcome = ScreeningOutcome.MODEL_MISMATCH;
        else if (unansweredHere.length > 0 && unansweredHere.some(isOutage)) outcome = ScreeningOutcome.UNANSWERED;
        else outcome = ScreeningOutcome.CLEAR;
      }
      if (outcome === ScreeningOutcome.CLEAR) {
        clear++;
        continue;
      }
      count(outcome);
      const index = chunk.start + offsets[j]!;
      const item = itemOf(chunk, offsets[j]!);
      const device = devices?.[j] ?? deviceFromKey(keys[j]!);
      if (outcome === ScreeningOutcome.PROHIBITED || outcome === ScreeningOutcome.TRACKED) {
        options.onHit?.(device, findings);
        results.push({ index, response: findingResponse(outcome, index, item, listedDetail(outcome, findings, mismatch), device, findings) });
      } else if (outcome === ScreeningOutcome.MODEL_MISMATCH) {
        results.push({ index, response: findingResponse(outcome, index, item, mismatch!, device) });
      }
    }
    if (clear > 0) outcomes.set(ScreeningOutcome.CLEAR, (outcomes.get(ScreeningOutcome.CLEAR) ?? 0) + clear);
    results.sort((a, b) => a.index - b.index);
    return { responses: results.map((r) => r.response), outcomes, unanswered, items: chunk.length };
  };

  const inFlight: Promise<ChunkResult>[] = [];
  const queued: Chunk[] = [];
  // Items read but not yet a full chunk: callers send batches of ~1,000 items, and a registry
  // spends a third less CPU per device in calls of 5,000 (grpc's per-call cost), so batches are
  // gathered into chunks of `chunkSize`. A partial chunk still goes out when nothing is waiting
  // on the registries (an interactive caller may be waiting for our answers before it sends more)
  // and when the manifest ends.
  let gathering: ChunkPart[] = [];
  let gatheringLength = 0;
  let gatheringStart = 0;
  let nextBatch: Promise<IteratorResult<ManifestBatch | readonly ManifestItem[]>> | undefined;
  let inputDone = false;
  let nextIndex = 0;
  let progressAtItems = 0;
  let progressAt = now();
  const tagged = <T>(p: Promise<T>, tag: "chunk" | "input") => p.then(() => tag);

  try {
    for (;;) {
      if (gatheringLength > 0 && queued.length === 0 && (inputDone || inFlight.length === 0)) {
        queued.push({ start: gatheringStart, parts: gathering, length: gatheringLength });
        gathering = [];
        gatheringLength = 0;
      }
      while (inFlight.length < maxInFlight && queued.length > 0) {
        const started = runChunk(queued.shift()!);
        // Awaited in order below; this only keeps a later chunk's failure from
        // counting as unhandled while an earlier one is awaited.
        started.catch(() => undefined);
        inFlight.push(started);
      }
      if (!inputDone && !nextBatch && queued.length === 0 && inFlight.length < maxInFlight) {
        nextBatch = batches.next();
        nextBatch.catch(() => undefined);
      }
      const head = inFlight[0];
      if (!head && !nextBatch && queued.length === 0 && gatheringLength === 0) break;
      // Whichever comes first: a finished chunk is sent even while the client is
      // still composing its next batch (it may be waiting for our answers).
      const first = head && nextBatch ? await Promise.race([tagged(head, "chunk"), tagged(nextBatch, "input")]) : head ? "chunk" : "input";
      if (first === "input") {
        const batch = await nextBatch!;
        nextBatch = undefined;
        if (batch.done) {
          inputDone = true;
          continue;
        }
        // Cut the batch into runs that fill the chunk being gathered.
        const items = manifestBatchOf(batch.value);
        for (let from = 0; from < items.length; ) {
          if (gatheringLength === 0) gatheringStart = nextIndex;
          const to = Math.min(items.length, from + chunkSize - gatheringLength);
          gathering.push({ batch: items, from, to });
          gatheringLength += to - from;
          nextIndex += to - from;
          from = to;
          if (gatheringLength === chunkSize) {
            queued.push({ start: gatheringStart, parts: gathering, length: gatheringLength });
            gathering = [];
            gatheringLength = 0;
          }
        }
        continue;
      }
      const result = await inFlight.shift()!;
      for (const [outcome, n] of result.outcomes) {
        tally.add(outcome, n);
        options.onScreened?.(outcome, n);
      }
      tally.noteUnanswered(result.unanswered);
      yield* result.responses;
      if (tally.itemsScreened - progressAtItems >= everyItems || now() - progressAt >= everyMs) {
        progressAtItems = tally.itemsScreened;
        progressAt = now();
        yield { message: { case: "progress", value: { itemsScreened: BigInt(tally.itemsScreened), findings: BigInt(tally.findings) } } };
      }
    }
  } finally {
    // Stop reading the caller's stream when we stop early; not awaited, since a
    // read may still be pending on a client that sends nothing more.
    if (!inputDone) batches.return?.().catch(() => undefined);
  }
  yield { message: { case: "summary", value: tally.summary(options.declarationReference, options.onUnanswered) } };
}
