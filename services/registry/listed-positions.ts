/**
 * Where a batch's listed keys stand in it: the positions, ascending, of every
 * key (duplicates included) whose number is among the listed ones.
 *
 * Why: the store answers with the listed keys, not their positions, and a
 * batch holds up to 10,000 keys. A few listed keys are found by scanning the
 * batch's numbers once per listed key (a compare is a few nanoseconds). A Map
 * of the key strings would hash every key of the batch, and the keys are
 * fresh slices of the request, so each lookup would hash 14 characters; a Set
 * of the numbers is cheaper but still allocates. A shipment full of stolen
 * phones lists many keys in every batch, so they are found here in a small
 * open-addressing table of their numbers, which stays in the CPU cache.
 */
import { deviceKeyHash } from "../../device/index.js";

/** Up to this many listed keys, the batch is scanned once per key; more go in a table. */
const FEW_LISTED = 4;

/** The positions in `numbers` (a batch's keys as numbers) of the keys whose number is in `listed`, ascending. */
export function listedPositions(numbers: Float64Array, listed: readonly number[]): number[] {
  const positions: number[] = [];
  if (listed.length === 0) return positions;
  if (listed.length <= FEW_LISTED) {
    listed.forEach((number, j) => {
      if (listed.indexOf(number) !== j) return; // listed twice: its positions are in already
      for (let i = 0; i < numbers.length; i++) if (numbers[i] === number) positions.push(i);
    });
    return positions.sort((a, b) => a - b);
  }
  // At most half full; -1 marks an empty slot (a key number is never negative).
  let capacity = 64;
  while (capacity < listed.length * 2) capacity *= 2;
  const mask = capacity - 1;
  const slots = new Float64Array(capacity).fill(-1);
  for (const number of listed) {
    let at = deviceKeyHash(number) & mask;
    while (slots[at] !== -1 && slots[at] !== number) at = (at + 1) & mask;
    slots[at] = number;
  }
  for (let i = 0; i < numbers.length; i++) {
    const number = numbers[i]!;
    let at = deviceKeyHash(number) & mask;
    for (;;) {
      const held = slots[at]!;
      if (held === number) {
        positions.push(i);
        break;
      }
      if (held === -1) break;
      at = (at + 1) & mask;
    }
  }
  return positions;
}
