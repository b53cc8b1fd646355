/**
 * The device keys a manifest has named so far, each with the index of the item
 * that named it first: a device listed twice in one shipment is a cloning sign.
 *
 * A manifest can hold millions of items, so the set must stay small: a 14-digit
 * key fits exactly in a double (< 2^53), and an open-addressing table over a
 * Float64Array of keys and a Uint32Array of first indexes costs 12 bytes a slot
 * (about 24 MB at a million devices, at most 3/4 full), where a JS Map of
 * string keys would cost several times that and churn the garbage collector.
 */

import { deviceKeyHash as hash } from "../device-key-hash.js";

/** A slot holds its key plus one (device keys are >= 0), so a fresh zeroed array is an empty table. */
const EMPTY = 0;
const MIN_CAPACITY = 1024;
/** Growth by 2, not more: every concurrent screening holds one table, so its size stays within 2x of its keys'. */
const GROWTH = 2;

/** Seen-before detection for one screening's device keys. */
export class SeenDevices {
  #keys: Float64Array;
  #firstIndex: Uint32Array;
  #mask: number;
  #size = 0;

  constructor(expected = 0) {
    let capacity = MIN_CAPACITY;
    while (capacity * 0.75 < expected) capacity *= 2;
    this.#keys = new Float64Array(capacity);
    this.#firstIndex = new Uint32Array(capacity);
    this.#mask = capacity - 1;
  }

  /** How many distinct devices were seen. */
  get size(): number {
    return this.#size;
  }

  /** Bytes held by the table, for the memory tests and the benchmark. */
  get bytes(): number {
    return this.#keys.byteLength + this.#firstIndex.byteLength;
  }

  /**
   * Records that item `index` names `key` (the 14-digit device key as a number)
   * and returns undefined; or, when an earlier item named it, that item's index.
   */
  firstSeen(key: number, index: number): number | undefined {
    const stored = key + 1;
    const keys = this.#keys;
    const mask = this.#mask;
    let slot = hash(key) & mask;
    for (;;) {
      const current = keys[slot]!;
      if (current === EMPTY) break;
      if (current === stored) return this.#firstIndex[slot];
      slot = (slot + 1) & mask;
    }
    keys[slot] = stored;
    this.#firstIndex[slot] = index;
    this.#size++;
    if (this.#size > this.#keys.length * 0.75) this.#grow();
    return undefined;
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldFirst = this.#firstIndex;
    const keys = (this.#keys = new Float64Array(oldKeys.length * GROWTH));
    const first = (this.#firstIndex = new Uint32Array(oldKeys.length * GROWTH));
    const mask = (this.#mask = keys.length - 1);
    for (let i = 0; i < oldKeys.length; i++) {
      const stored = oldKeys[i]!;
      if (stored === EMPTY) continue;
      let slot = hash(stored - 1) & mask;
      while (keys[slot] !== EMPTY) slot = (slot + 1) & mask;
      keys[slot] = stored;
      first[slot] = oldFirst[i]!;
    }
  }
}
