/**
 * The hash of a 14-digit device key held as a number (it fits a double exactly,
 * being below 2^53), shared by the typed-array tables that key on devices
 * (screening's seen-devices, the gateway's clean answers, the positions of a
 * registry batch's listed keys), so serial runs of keys spread out the same way.
 */

/** Mixes both halves of a key below 2^53 into 32 bits (murmur3's finaliser). */
export function deviceKeyHash(key: number): number {
  let h = (key >>> 0) ^ Math.imul(Math.floor(key / 4294967296), 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
