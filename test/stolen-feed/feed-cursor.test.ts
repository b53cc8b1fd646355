import assert from "node:assert/strict";
import fc from "fast-check";
import { Code, ImeifedError } from "../../errors/index.js";
import { decodeFeedCursor, encodeFeedCursor, MAX_CURSOR_LENGTH, type RegistryPosition } from "../../gateway/stolen-feed/feed-cursor.js";

function refusal(fn: () => unknown): ImeifedError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ImeifedError, `expected an ImeifedError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the cursor to be refused");
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("stolen feed cursor", () => {
  it("round-trips every registry's epoch and uint64 sequence", () => {
    const country = fc.constantFrom("GB", "ES", "JP", "BR", "US", "FR");
    const position = fc.record({ epoch: fc.string({ maxLength: 40 }), seq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) });
    fc.assert(
      fc.property(fc.dictionary(country, position), (record) => {
        const cursor = new Map<string, RegistryPosition>(Object.entries(record).map(([k, v]) => [k, { ...v }]));
        assert.deepEqual(decodeFeedCursor(encodeFeedCursor(cursor)), cursor);
      }),
    );
  });

  it("encodes equal positions to equal cursors whatever the insertion order", () => {
    const a = new Map([["GB", { epoch: "e1", seq: 5n }], ["ES", { epoch: "e2", seq: 7n }]]);
    const b = new Map([["ES", { epoch: "e2", seq: 7n }], ["GB", { epoch: "e1", seq: 5n }]]);
    assert.equal(encodeFeedCursor(a), encodeFeedCursor(b));
  });

  it("is base64url JSON with a version, readable by a manufacturer's engineer", () => {
    const text = encodeFeedCursor(new Map([["GB", { epoch: "e1", seq: 123n }]]));
    assert.match(text, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(JSON.parse(Buffer.from(text, "base64url").toString()), { v: 1, registries: { GB: { epoch: "e1", seq: "123" } } });
  });

  it("reads an empty cursor as 'from the beginning'", () => {
    assert.equal(decodeFeedCursor("").size, 0);
  });

  it("accepts a hand-written cursor with a numeric sequence", () => {
    assert.deepEqual(decodeFeedCursor(b64({ v: 1, registries: { ES: { epoch: "x", seq: 9 } } })), new Map([["ES", { epoch: "x", seq: 9n }]]));
  });

  const bad: Array<[string, string, string, RegExp]> = [
    ["not base64url", "abc$%", "CURSOR_MALFORMED", /not base64url/],
    ["not JSON", Buffer.from("{nope").toString("base64url"), "CURSOR_MALFORMED", /does not decode/],
    ["another version", b64({ v: 2, registries: {} }), "CURSOR_VERSION", /version 2 .* reads version 1/],
    ["a lower-case country", b64({ v: 1, registries: { gb: { epoch: "e", seq: "1" } } }), "CURSOR_MALFORMED", /two capital letters.* at registries\.gb/],
    ["a negative sequence", b64({ v: 1, registries: { GB: { epoch: "e", seq: "-1" } } }), "CURSOR_MALFORMED", /registries\.GB\.seq/],
    ["a sequence beyond uint64", b64({ v: 1, registries: { GB: { epoch: "e", seq: "18446744073709551616" } } }), "CURSOR_MALFORMED", /beyond uint64/],
    ["an unknown field", b64({ v: 1, registries: {}, extra: 1 }), "CURSOR_MALFORMED", /extra/],
    ["a huge string", "A".repeat(MAX_CURSOR_LENGTH + 1), "CURSOR_MALFORMED", /longer than any cursor/],
  ];
  for (const [what, text, reason, message] of bad) {
    it(`refuses ${what} with INVALID_ARGUMENT naming the cursor field`, () => {
      const error = refusal(() => decodeFeedCursor(text));
      assert.equal(error.code, Code.INVALID_ARGUMENT);
      assert.equal(error.reason, reason);
      assert.equal(error.field, "cursor");
      assert.match(error.message, /^cursor: /);
      assert.match(error.message, message);
    });
  }
});
