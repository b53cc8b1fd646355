/**
 * Which devices may have an entry in the answer cache's LRU: a bit filter the
 * bulk look-up asks before the LRU (finding-cache.ts).
 */
import { deviceKeyHash } from "../../device/index.js";

/** The held-device filter's bits: from 4 KB, growing with the LRU to at most 256 KB. */
const MIN_HELD_BITS = 1 << 15;
const MAX_HELD_BITS = 1 << 21;
/** Bits per held device the filter keeps at least (a wasted look per ~16 misses at most), until its largest size. */
const BITS_PER_HELD = 16;

/**
 * Which devices may have an LRU entry: one bit per hash of a device key, set
 * whenever the LRU stores the device, never cleared one by one (an evicted
 * device's bit stays until the next rebuild: a wasted look, never a missed
 * entry). Why: nearly every device of a manifest has no LRU entry, and a
 * bit read is far cheaper than an lru-cache `get` that misses (the figures are
 * in the commit that added the filter). Rebuilt from the
 * LRU's keys once the marks since the last rebuild outnumber the bits' share
 * of the held devices, so a long-running gateway's filter stays sparse.
 *
 * Sized to what the LRU holds (at least 16 bits a device, 4 KB to 256 KB), because
 * every screened device looks here: a gateway holding a few thousand listed
 * devices must keep its filter in the CPU's nearest caches, which a filter of
 * the largest size does not fit beside the clean-answer table's traffic.
 */
export class HeldDevices {
  #bits = new Uint32Array(MIN_HELD_BITS / 32);
  #mask = MIN_HELD_BITS - 1;
  #marks = 0;
  /** Marks after which to rebuild: past the devices held at the last rebuild, so rebuilding stays amortised however large the LRU. */
  #rebuildAt = MIN_HELD_BITS / BITS_PER_HELD;

  mayHold(keyNumber: number): boolean {
    const h = deviceKeyHash(keyNumber) & this.#mask;
    return (this.#bits[h >>> 5]! & (1 << (h & 31))) !== 0;
  }

  mark(key: string, held: () => Iterable<string>): void {
    if (++this.#marks > this.#rebuildAt) {
      // Mostly evicted devices' bits by now, or too many devices for the bits: start over from what
      // the LRU holds, in a filter sized to it.
      const keys = [...held()];
      let size = MIN_HELD_BITS;
      while (size < MAX_HELD_BITS && size < keys.length * 2 * BITS_PER_HELD) size *= 2;
      this.#bits = new Uint32Array(size / 32);
      this.#mask = size - 1;
      this.#marks = 0;
      for (const k of keys) this.#set(Number(k));
      this.#rebuildAt = Math.max(2 * this.#marks, size / BITS_PER_HELD);
    }
    this.#set(Number(key));
  }

  clear(): void {
    this.#bits = new Uint32Array(MIN_HELD_BITS / 32);
    this.#mask = MIN_HELD_BITS - 1;
    this.#marks = 0;
    this.#rebuildAt = MIN_HELD_BITS / BITS_PER_HELD;
  }

  #set(keyNumber: number): void {
    const h = deviceKeyHash(keyNumber) & this.#mask;
    this.#bits[h >>> 5]! |= 1 << (h & 31);
    this.#marks++;
  }
}
