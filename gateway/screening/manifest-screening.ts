/**
 * Screens a manifest's items as they arrive and streams what it finds, with
 * memory that stays flat however long the manifest is.
 *
 * The steps: item batches are gathered (or cut) into chunks of `chunkSize`
 * items (chunking.ts), so a manifest sent 1,000 items a message still reaches
 * each registry in calls of its batch limit; each chunk is classified as it
 * starts, in manifest order (chunk-classifier.ts: MALFORMED, DUPLICATE, the
 * TAC's make), then its valid devices go to the registries through the
 * gateway's one upstream path (`checkMany`: cache, batching, deadlines,
 * breakers), and the answers are resolved into one outcome per item
 * (chunk-resolution.ts). At most `maxChunksInFlight` chunks wait on the
 * registries, in a pool that gives results back in manifest order
 * (in-order-pool.ts). This is an async generator:
 * it reads the next batch only when the caller's stream has taken what came
 * before (the rpc adapter waits for `drain` before asking for more) and a chunk
 * slot is free, so a slow reader slows the reading of the manifest instead of
 * filling memory.
 *
 * One outcome per item, so the counts add up to the items screened. A
 * DUPLICATE is not checked again: its first occurrence was.
 */
import type { ManifestItem, ScreeningOutcome, UnansweredPolicy } from "../../gen/imeifed/v1/federation_pb.js";
import type { DeviceKey, TacDatabase } from "../../device/index.js";
import type { Actor } from "../../trust/principal.js";
import { ChunkClassifier } from "./chunk-classifier.js";
import { resolveChunk, type ChunkAnswers, type ChunkResult, type ScreeningHit, type ScreenResponseInit } from "./chunk-resolution.js";
import { ChunkGatherer, type Chunk } from "./chunking.js";
import { InOrderPool } from "./in-order-pool.js";
import { manifestBatchOf, type ManifestBatch } from "./manifest-batch.js";
import { ScreeningTally } from "./screening-tally.js";

export type { ChunkAnswers, ScreeningHit, ScreenResponseInit } from "./chunk-resolution.js";

/** How screening asks the registries (the gateway's FederationChecker.checkBulkAnswers fits); `keyNumbers` holds the same keys as numbers. */
export type CheckMany = (keys: readonly DeviceKey[], opts: { deadline: Date; requester: Actor; purpose: string }, keyNumbers: Float64Array) => Promise<ChunkAnswers>;

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

/**
 * The caller's item batches, read one at a time: a read is started only when
 * asked for, so a manifest is read no faster than it is screened.
 */
class BatchReader {
  #pending: Promise<IteratorResult<ManifestBatch | readonly ManifestItem[]>> | undefined;
  #done = false;

  constructor(private readonly batches: AsyncIterator<ManifestBatch | readonly ManifestItem[]>) {}

  get done(): boolean {
    return this.#done;
  }

  /** The read under way, if any. */
  get pending(): Promise<unknown> | undefined {
    return this.#pending;
  }

  /** Starts reading the next batch, unless a read is under way or the manifest ended. */
  request(): void {
    if (this.#done || this.#pending) return;
    this.#pending = this.batches.next();
    this.#pending.catch(() => undefined);
  }

  /** The batch the read under way brings; undefined once the manifest ended. */
  async take(): Promise<ManifestBatch | undefined> {
    const read = await this.#pending!;
    this.#pending = undefined;
    if (read.done) {
      this.#done = true;
      return undefined;
    }
    return manifestBatchOf(read.value);
  }

  /** Stops reading the caller's stream; not awaited, since a read may still be pending on a client that sends nothing more. */
  stop(): void {
    if (!this.#done) this.batches.return?.().catch(() => undefined);
  }
}

/** Which comes first: the oldest chunk's result or the next batch (a finished chunk is sent even while the client is still composing its next batch: it may be waiting for our answers). */
async function firstReady(chunk: Promise<unknown> | undefined, input: Promise<unknown> | undefined): Promise<"chunk" | "input"> {
  if (chunk && input) return Promise.race([chunk.then(() => "chunk" as const), input.then(() => "input" as const)]);
  return chunk ? "chunk" : "input";
}

/** Screens the item batches of one manifest (the Shipment is already read); yields findings, progress, then the summary. */
export async function* screenManifest(batches: AsyncIterator<ManifestBatch | readonly ManifestItem[]>, options: ManifestScreeningOptions): AsyncGenerator<ScreenResponseInit> {
  const everyItems = options.progressEveryItems ?? SCREENING_DEFAULTS.progressEveryItems;
  const everyMs = options.progressEveryMs ?? SCREENING_DEFAULTS.progressEveryMs;
  const now = options.now ?? Date.now;
  const input = new BatchReader(batches);
  const gatherer = new ChunkGatherer(options.chunkSize ?? SCREENING_DEFAULTS.chunkSize);
  const pool = new InOrderPool<ChunkResult>(options.maxChunksInFlight ?? SCREENING_DEFAULTS.maxChunksInFlight);
  const classifier = new ChunkClassifier(options.tac);
  const tally = new ScreeningTally();
  let progressAtItems = 0;
  let progressAt = now();

  /** One chunk: classified now (in manifest order), asked, resolved. */
  const screenChunk = async (chunk: Chunk): Promise<ChunkResult> => {
    const classified = classifier.classify(chunk);
    options.onDevices?.(classified.keyNumbers);
    let answers: ChunkAnswers | undefined;
    if (classified.keys.length > 0) {
      await options.takeDevices?.(classified.keys.length);
      answers = await options.checkMany(classified.keys, { deadline: options.chunkDeadline(), requester: options.requester, purpose: options.declarationReference }, classified.keyNumbers);
    }
    return resolveChunk(chunk, classified, answers, options.onHit);
  };

  try {
    for (;;) {
      // A partial chunk goes out when nothing waits on the registries (an interactive caller may be
      // waiting for our answers before it sends more) and when the manifest ended.
      if (!gatherer.hasReady && (input.done || pool.size === 0)) gatherer.flush();
      while (!pool.full && gatherer.hasReady) {
        const chunk = gatherer.takeReady()!;
        pool.start(() => screenChunk(chunk));
      }
      if (!gatherer.hasReady && !pool.full) input.request();
      if (!pool.oldest && !input.pending) break;
      if ((await firstReady(pool.oldest, input.pending)) === "input") {
        const batch = await input.take();
        if (batch) gatherer.add(batch);
        continue;
      }
      const result = await pool.take();
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
    input.stop();
  }
  yield { message: { case: "summary", value: tally.summary(options.declarationReference, options.onUnanswered) } };
}
