import assert from "node:assert/strict";
import { CircuitBreaker, type CircuitState } from "../../gateway/upstream/circuit-breaker.js";

describe("gateway circuit breaker", () => {
  let now = 0;
  let states: CircuitState[];
  const breaker = () => {
    states = [];
    return new CircuitBreaker({ failureThreshold: 3, coolDownMs: 1_000, now: () => now, onStateChange: (s) => states.push(s) });
  };
  beforeEach(() => (now = 10_000));

  it("stays closed below the failure threshold, and a success resets the count", () => {
    const b = breaker();
    b.recordFailure();
    b.recordFailure();
    b.recordSuccess();
    b.recordFailure();
    b.recordFailure();
    assert.equal(b.state, "closed");
    assert.equal(b.tryAcquire(), true);
  });

  it("opens after N consecutive failures and then fails fast", () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.recordFailure();
    assert.equal(b.state, "open");
    assert.equal(b.tryAcquire(), false);
    now += 999;
    assert.equal(b.tryAcquire(), false);
    assert.equal(b.retryInMs(), 1);
  });

  it("half-opens after the cool-down with exactly one probe, which closes it on success", () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.recordFailure();
    now += 1_000;
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.state, "half-open");
    assert.equal(b.tryAcquire(), false, "a second call waits for the probe");
    b.recordSuccess();
    assert.equal(b.state, "closed");
    assert.deepEqual(states, ["open", "half-open", "closed"]);
  });

  it("re-opens for another cool-down when the probe fails", () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.recordFailure();
    now += 1_000;
    b.tryAcquire();
    b.recordFailure();
    assert.equal(b.state, "open");
    assert.equal(b.tryAcquire(), false);
    now += 1_000;
    assert.equal(b.tryAcquire(), true);
  });

  it("a probe that ends without a verdict lets the next call probe at once", () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.recordFailure();
    now += 1_000;
    b.tryAcquire();
    b.recordNeutral();
    assert.equal(b.state, "open");
    assert.equal(b.tryAcquire(), true);
  });
});
