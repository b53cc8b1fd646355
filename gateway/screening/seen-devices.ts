/**
 * The device keys a manifest has named so far, each with the index of the item
 * that named it first: a device listed twice in one shipment is a cloning sign.
 *
 * A manifest can hold millions of items, so the set must stay small: a 14-digit
 * key (below 2^47) is held as its low and high 32-bit words, and an
 * open-addressing table keeps each slot's three words (low, high + 1, first
 * index) side by side in one Uint32Array: 12 bytes a slot, about 24 MB at a
 * million devices, at most 3/4 full. Side by side because at a million devices
 * the table is far larger than the CPU caches, and a look-up then costs one
 * memory fetch rather than one per array (a key array beside an index array
 * made two). A JS Map of string keys would cost several times the memory and
 * churn the garbage collector.
 */

import { deviceKeyHash as hash } from "../../device/index.js";

/** Words a slot takes: the key's low word, its high word plus one (0: an empty slot), the first index. */
const STRIDE = 3;
const MIN_CAPACITY = 1024;
/** Growth by 2, not more: every concurrent screening holds one table, so its size stays within 2x of its keys'. */
const GROWTH = 2;
const MAX_LOAD = 0.75;
const TWO_TO_32 = 4294967296;

/** Seen-before detection for one screening's device keys. */
export class SeenDevices {
  #slots: Uint32Array;
  #mask: number;
  #size = 0;

  constructor(expected = 0) {
    let capacity = MIN_CAPACITY;
    while (capacity * MAX_LOAD < expected) capacity *= 2;
    this.#slots = new Uint32Array(capacity * STRIDE);
    this.#mask = capacity - 1;
  }

  /** How many distinct devices were seen. */
  get size(): number {
    return this.#size;
  }

  /** Bytes held by the table, for the memory tests and the benchmark. */
  get bytes(): number {
    return this.#slots.byteLength;
  }

  /**
   * Records that item `index` names `key` (the 14-digit device key as a number)
   * and returns undefined; or, when an earlier item named it, that item's index.
   */
  firstSeen(key: number, index: number): number | undefined {
    const low = key >>> 0;
    const high = Math.floor(key / TWO_TO_32) + 1;
    const slots = this.#slots;
    const mask = this.#mask;
    let at = (hash(key) & mask) * STRIDE;
    for (;;) {
      const stored = slots[at + 1]!;
      if (stored === 0) break;
      if (stored === high && slots[at] === low) return slots[at + 2];
      at = at + STRIDE === slots.length ? 0 : at + STRIDE;
    }
    slots[at] = low;
    slots[at + 1] = high;
    slots[at + 2] = index;
    this.#size++;
    if (this.#size > (mask + 1) * MAX_LOAD) this.#grow();
    return undefined;
  }

  #grow(): void {
    const old = this.#slots;
    const capacity = (this.#mask + 1) * GROWTH;
    const slots = (this.#slots = new Uint32Array(capacity * STRIDE));
    const mask = (this.#mask = capacity - 1);
    for (let from = 0; from < old.length; from += STRIDE) {
      const high = old[from + 1]!;
      if (high === 0) continue;
      const low = old[from]!;
      let at = (hash((high - 1) * TWO_TO_32 + low) & mask) * STRIDE;
      while (slots[at + 1] !== 0) at = at + STRIDE === slots.length ? 0 : at + STRIDE;
      slots[at] = low;
      slots[at + 1] = high;
      slots[at + 2] = old[from + 2]!;
    }
  }
}
