import assert from "node:assert/strict";
import { Code, ImeifedError } from "../../../errors/index.js";
import { Admission, ADMISSION_REASON, type AdmissionLimits } from "../../../trust/admission.js";
import { streamShare } from "../../../rpc/stream-budget.js";

const LIMITS: AdmissionLimits = {
  maxConcurrentStreamsPerConnection: 100,
  maxConcurrentStreams: 512,
  maxInFlight: 3,
  maxInFlightPerPrincipal: 2,
  maxStreams: 2,
  maxStreamsPerPrincipal: 1,
  streamIdleMs: 0,
  retryAfterMs: 100,
};

function refusal(admit: () => unknown): ImeifedError {
  try {
    admit();
  } catch (error) {
    assert.ok(error instanceof ImeifedError);
    return error;
  }
  assert.fail("admitted");
}

describe("admission counts (trust/admission.ts)", () => {
  it("refuses a principal's calls past its limit and the server's past the total, with retry-after-ms", () => {
    const admission = new Admission(LIMITS);
    admission.admit("police-es", false);
    admission.admit("police-es", false);
    const own = refusal(() => admission.admit("police-es", false));
    assert.deepEqual([Code[own.code], own.reason, own.retryAfterMs], ["RESOURCE_EXHAUSTED", ADMISSION_REASON.callsInFlight, 100]);
    admission.admit("police-gb", false);
    const total = refusal(() => admission.admit("customs-gb", false));
    assert.equal(total.reason, ADMISSION_REASON.serverBusy);
  });

  it("counts streams apart from calls", () => {
    const admission = new Admission(LIMITS);
    admission.admit("police-es", false);
    admission.admit("police-es", false);
    admission.admit("police-es", true);
    assert.equal(refusal(() => admission.admit("police-es", true)).reason, ADMISSION_REASON.streamsOpen);
    admission.admit("police-gb", true);
    assert.equal(refusal(() => admission.admit("customs-gb", true)).reason, ADMISSION_REASON.serverBusy);
    assert.deepEqual(admission.load, { calls: 2, streams: 2 });
  });

  it("counts a finished call out once, however often it is released", () => {
    const admission = new Admission(LIMITS);
    const release = admission.admit("police-es", false);
    release();
    release();
    assert.deepEqual(admission.load, { calls: 0, streams: 0 });
    // Its slots are all free again (a second release did not free one it did not hold).
    admission.admit("police-es", false);
    admission.admit("police-es", false);
    assert.equal(refusal(() => admission.admit("police-es", false)).reason, ADMISSION_REASON.callsInFlight);
  });

  it("shares a stream budget in powers of two, at least one stream a connection", () => {
    const budget = { perConnection: 100, total: 512 };
    assert.deepEqual([1, 5, 6, 11, 200, 513, 10_000].map((n) => streamShare(budget, n)), [100, 100, 64, 32, 2, 1, 1]);
  });
});
