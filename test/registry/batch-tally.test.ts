import assert from "node:assert/strict";
import fc from "fast-check";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { tallyOf } from "../../services/registry/handlers/check-devices.js";

/** The audit verdict as it was computed from a full answer: `STATUS:count` in the order each status first appears. */
function fullTally(statuses: readonly DeviceStatus[]): string {
  const counts = new Map<DeviceStatus, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${DeviceStatus[s]}:${n}`).join(" ");
}

describe("a CheckDevices batch's audit verdict", () => {
  it("counts each status in the order it first appears, from the listed checks alone", () => {
    const listed = (status: DeviceStatus) => ({ status });
    assert.equal(tallyOf(4, [listed(DeviceStatus.PROHIBITED)], [1]), "PERMITTED:3 PROHIBITED:1");
    assert.equal(tallyOf(4, [listed(DeviceStatus.TRACKED), listed(DeviceStatus.PROHIBITED)], [0, 3]), "TRACKED:1 PERMITTED:2 PROHIBITED:1");
    assert.equal(tallyOf(2, [listed(DeviceStatus.TRACKED), listed(DeviceStatus.TRACKED)], [0, 1]), "TRACKED:2");
    assert.equal(tallyOf(0, [], []), "");
  });

  it("equals the full answer's tally on generated batches", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(DeviceStatus.PERMITTED, DeviceStatus.PERMITTED, DeviceStatus.PROHIBITED, DeviceStatus.TRACKED), { maxLength: 30 }), (statuses) => {
        const indexes = statuses.flatMap((s, i) => (s === DeviceStatus.PERMITTED ? [] : [i]));
        assert.equal(tallyOf(statuses.length, indexes.map((i) => ({ status: statuses[i]! })), indexes), fullTally(statuses));
      }),
      { numRuns: 500 },
    );
  });
});
