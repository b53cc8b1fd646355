import assert from "node:assert/strict";
import { defaultCallerDeadline, upstreamDeadline } from "../../gateway/upstream/upstream-deadline.js";

describe("gateway upstream deadlines", () => {
  const now = 1_000_000;
  const rule = { marginMs: 25, capMs: 2_000 };

  it("keeps the margin back from a near caller deadline", () => {
    assert.equal(upstreamDeadline(new Date(now + 300), rule, now).getTime(), now + 275);
  });
  it("caps a far caller deadline at the registry's cap", () => {
    assert.equal(upstreamDeadline(new Date(now + 60_000), rule, now).getTime(), now + 2_000);
  });
  it("uses the cap when the caller set no deadline", () => {
    assert.equal(upstreamDeadline(undefined, rule, now).getTime(), now + 2_000);
  });
  it("never lands after the caller's deadline, even when the margin eats it all", () => {
    const d = upstreamDeadline(new Date(now + 10), rule, now);
    assert.ok(d.getTime() <= now + 10);
  });
  it("gives a deadline-less caller room for the cap plus the margin", () => {
    assert.equal(defaultCallerDeadline(rule, now).getTime(), now + 2_025);
  });
});
