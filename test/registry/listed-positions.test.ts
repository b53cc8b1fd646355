import assert from "node:assert/strict";
import fc from "fast-check";
import { listedPositions } from "../../services/registry/listed-positions.js";

/** The plain answer: every position whose number is listed, in order. */
function naive(numbers: Float64Array, listed: readonly number[]): number[] {
  const set = new Set(listed);
  const positions: number[] = [];
  numbers.forEach((n, i) => {
    if (set.has(n)) positions.push(i);
  });
  return positions;
}

// Keys from a small pool (so batches repeat keys and listed keys recur), as 14-digit numbers with
// serial neighbours (as a carton's run of devices is), and the largest key there is.
const key = fc.oneof(fc.integer({ min: 0, max: 400 }).map((i) => 35693803000000 + i), fc.constant(99999999999999), fc.constant(1));

describe("listedPositions: where a batch's listed keys stand", () => {
  it("equals a scan with a set, for few and many listed keys, duplicates in the batch and in the list", () => {
    fc.assert(
      fc.property(fc.array(key, { maxLength: 600 }), fc.array(key, { maxLength: 200 }), (batch, listed) => {
        const numbers = Float64Array.from(batch);
        assert.deepEqual(listedPositions(numbers, listed), naive(numbers, listed));
      }),
      { numRuns: 300 },
    );
  });

  it("finds every listed key of a batch that lists most of its keys (a shipment of stolen phones)", () => {
    const numbers = Float64Array.from({ length: 10_000 }, (_, i) => 35693803000000 + i);
    const listed = Array.from({ length: 9_000 }, (_, i) => 35693803000000 + i + 1_000);
    const positions = listedPositions(numbers, listed);
    assert.equal(positions.length, 9_000);
    assert.equal(positions[0], 1_000);
    assert.equal(positions[8_999], 9_999);
  });

  it("answers nothing for no listed keys or an empty batch", () => {
    assert.deepEqual(listedPositions(Float64Array.from([1, 2, 3]), []), []);
    assert.deepEqual(listedPositions(new Float64Array(0), [1, 2, 3]), []);
  });
});
