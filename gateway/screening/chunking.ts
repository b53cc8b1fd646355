/**
 * Cuts and gathers a manifest's item batches into chunks of `chunkSize`:
 * callers send batches of about a thousand items, and a registry spends less
 * CPU per device in larger calls (its per-call cost), so a chunk fills one
 * upstream batch. Items keep their manifest index.
 */
import type { ManifestItem } from "../../gen/imeifed/v1/federation_pb.js";
import type { ManifestBatch } from "./manifest-batch.js";

/** A run of one batch's items, `from` to `to` (exclusive). */
export interface ChunkPart {
  readonly batch: ManifestBatch;
  readonly from: number;
  readonly to: number;
}

/** Items screened together: consecutive runs of the caller's batches, `length` items from manifest index `start`. */
export interface Chunk {
  readonly start: number;
  readonly parts: readonly ChunkPart[];
  readonly length: number;
}

/** The item at `offset` in a chunk, as a message (for a finding). */
export function itemOf(chunk: Chunk, offset: number): ManifestItem {
  for (const part of chunk.parts) {
    const n = part.to - part.from;
    if (offset < n) return part.batch.itemAt(part.from + offset);
    offset -= n;
  }
  throw new RangeError(`no item ${offset} in a chunk of ${chunk.length}`);
}

/** Gathers batches into chunks; full chunks wait in `ready` until taken. */
export class ChunkGatherer {
  #parts: ChunkPart[] = [];
  #length = 0;
  #start = 0;
  #nextIndex = 0;
  readonly #ready: Chunk[] = [];

  constructor(readonly chunkSize: number) {}

  /** Cuts `batch` into runs that fill the chunk being gathered; each full chunk becomes ready. */
  add(batch: ManifestBatch): void {
    for (let from = 0; from < batch.length; ) {
      if (this.#length === 0) this.#start = this.#nextIndex;
      const to = Math.min(batch.length, from + this.chunkSize - this.#length);
      this.#parts.push({ batch, from, to });
      this.#length += to - from;
      this.#nextIndex += to - from;
      from = to;
      if (this.#length === this.chunkSize) this.flush();
    }
  }

  /** Items gathered that do not yet fill a chunk. */
  get holdsPartial(): boolean {
    return this.#length > 0;
  }

  /** Makes the items gathered so far a chunk of their own (the manifest ended, or nothing else waits on the registries). */
  flush(): void {
    if (this.#length === 0) return;
    this.#ready.push({ start: this.#start, parts: this.#parts, length: this.#length });
    this.#parts = [];
    this.#length = 0;
  }

  get hasReady(): boolean {
    return this.#ready.length > 0;
  }

  /** The oldest ready chunk. */
  takeReady(): Chunk | undefined {
    return this.#ready.shift();
  }
}
