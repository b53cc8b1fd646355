import assert from "node:assert/strict";
import fc from "fast-check";
import { luhnCheckDigit, requireDevice } from "../../device/index.js";
import { ImeifedError } from "../../errors/index.js";
import { batchKeys } from "../../services/registry/batch-keys.js";

/** What requireDevice answers for one IMEI: its key, or its error's reason, field and message. */
function viaRequireDevice(imei: string, field: string): string | { reason: string; field: string | undefined; message: string } {
  try {
    return requireDevice(imei, field).key;
  } catch (error) {
    assert.ok(error instanceof ImeifedError);
    return { reason: error.reason, field: error.field, message: error.message };
  }
}

function viaBatchKeys(imei: string): ReturnType<typeof viaRequireDevice> {
  try {
    const { keys, numbers } = batchKeys(["35693803000002", imei], "imeis");
    // The number beside each key is that key's value, whichever path keyed it.
    assert.equal(numbers[1], Number(keys[1]));
    return keys[1]!;
  } catch (error) {
    assert.ok(error instanceof ImeifedError);
    return { reason: error.reason, field: error.field, message: error.message };
  }
}

const body = fc.stringMatching(/^\d{14}$/);
const imei = fc.oneof(
  body.map((b) => b + String(luhnCheckDigit(b))), // valid IMEIs
  body, // bodies
  fc.tuple(body, fc.integer({ min: 0, max: 99 })).map(([b, sv]) => b + String(sv).padStart(2, "0")), // IMEISVs
  fc.tuple(body, fc.integer({ min: 0, max: 9 })).map(([b, d]) => b + String(d)), // any check digit, mostly wrong
  fc.constantFrom("00000000000000", "000000000000000", "0000000000000000", "00000000000001", "", " ", "35693803000001X", "3569380300000١٢"),
  fc.stringMatching(/^[\d\s\-./]{12,20}$/), // separators: requireDevice's path
  fc.string({ maxLength: 20 }),
  body.map((b) => `urn:gsma:imei:${b}`),
);

describe("registry batch keys", () => {
  it("keys each IMEI, IMEISV and body of a batch in order", () => {
    const { keys, numbers } = batchKeys(["356938035643809", "3569380356438012", "35693803564380", " 35-693803-564380-9 ", "012345678901237"], "imeis");
    assert.deepEqual(keys, [...Array(4).fill("35693803564380"), "01234567890123"]);
    assert.deepEqual([...numbers], [...Array(4).fill(35693803564380), 1234567890123]);
    assert.deepEqual(batchKeys([], "imeis").keys, []);
  });

  it("refuses a malformed IMEI naming its place in the batch", () => {
    assert.throws(() => batchKeys(["356938035643809", "356938035643808"], "imeis"), (e: unknown) => e instanceof ImeifedError && e.field === "imeis[1]" && e.reason === "IMEI_CHECK_DIGIT");
    assert.throws(() => batchKeys(["000000000000000"], "imeis"), (e: unknown) => e instanceof ImeifedError && e.field === "imeis[0]" && e.reason === "IMEI_ALL_ZERO");
  });

  it("answers exactly as requireDevice does, key or error, over generated inputs", () => {
    fc.assert(
      fc.property(imei, (input) => assert.deepEqual(viaBatchKeys(input), viaRequireDevice(input, "imeis[1]"))),
      { numRuns: 3_000 },
    );
  });
});
