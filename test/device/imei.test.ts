import assert from "node:assert/strict";
import fc from "fast-check";
import { luhnCheckDigit, mask, parseDevice, requireDevice } from "../../device/index.js";
import { Code, ImeifedError } from "../../errors/index.js";

/** 14-digit bodies that are not all zeros. */
const bodies = fc
  .array(fc.integer({ min: 0, max: 9 }), { minLength: 14, maxLength: 14 })
  .map((d) => d.join(""))
  .filter((b) => !/^0+$/.test(b));
const imeis = bodies.map((b) => b + String(luhnCheckDigit(b)));

function errorOf(input: string): ImeifedError {
  const parsed = parseDevice(input);
  assert.equal(parsed.ok, false, `${input} should be rejected`);
  return (parsed as { ok: false; error: ImeifedError }).error;
}

describe("device identity", () => {
  it("computes the published check digit of 3GPP TS 23.003's example IMEI", () => {
    // TS 23.003 annex B: IMEI 49015420323751-8
    assert.equal(luhnCheckDigit("49015420323751"), 8);
    assert.equal(requireDevice("490154203237518").key, "49015420323751");
  });

  it("resolves IMEI, IMEISV and the 14-digit body of one device to the same key", () => {
    const forms = ["490154203237518", "4901542032375104", "49015420323751", "imei-490154203237518", "imeisv-4901542032375104", "urn:gsma:imei:49015420-323751-8", "49 015420 323751 8", "49.015420.323751.8", "49/015420/323751/8"];
    for (const form of forms) assert.equal(requireDevice(form).key, "49015420323751", form);
    const sv = requireDevice("4901542032375104");
    assert.equal(sv.form, "imeisv");
    assert.equal(sv.softwareVersion, "04");
    assert.equal(sv.imei, "490154203237518");
  });

  it("exposes the TAC and its issuing body", () => {
    const d = requireDevice("356938035643809");
    assert.equal(d.tac, "35693803");
    assert.equal(d.issuingBody, "BABT");
    assert.equal(requireDevice("86" + "123456789012").issuingBody, "TAF");
    assert.equal(requireDevice("01" + "123456789012").issuingBody, "CTIA");
    assert.equal(requireDevice("00" + "123456789012").issuingBody, "test range");
  });

  it("rejects bad identifiers with INVALID_ARGUMENT naming the field and the reason", () => {
    const cases: Array<[string, string, RegExp]> = [
      ["", "IMEI_EMPTY", /imei: is empty/],
      ["35693803564380X", "IMEI_NON_DIGIT", /non-digit character "X"/],
      ["3569380356438", "IMEI_LENGTH", /has 13 digits/],
      ["35693803564380912", "IMEI_LENGTH", /has 17 digits/],
      ["356938035643808", "IMEI_CHECK_DIGIT", /check digit .* is 9, not 8/],
      ["000000000000000", "IMEI_ALL_ZERO", /all zeros/],
    ];
    for (const [input, reason, message] of cases) {
      const error = errorOf(input);
      assert.equal(error.code, Code.INVALID_ARGUMENT);
      assert.equal(error.reason, reason, input);
      assert.equal(error.field, "imei");
      assert.match(error.message, message);
    }
    assert.equal(errorOf("12").withField("imeis[3]").message.startsWith("imeis[3]:"), true);
  });

  it("round-trips every valid IMEI through every form (property)", () => {
    fc.assert(
      fc.property(imeis, fc.integer({ min: 0, max: 99 }), (imei, sv) => {
        const d = requireDevice(imei);
        assert.equal(d.imei, imei);
        assert.equal(requireDevice(d.key).key, d.key);
        assert.equal(requireDevice(d.key + String(sv).padStart(2, "0")).key, d.key);
        assert.equal(requireDevice(`imei-${imei}`).key, d.key);
      }),
      { numRuns: 2_000 },
    );
  });

  it("fails the check digit for every single-digit change of a valid IMEI (property)", () => {
    fc.assert(
      fc.property(imeis, (imei) => {
        for (let i = 0; i < 15; i++) {
          for (let d = 0; d <= 9; d++) {
            if (String(d) === imei[i]) continue;
            const changed = imei.slice(0, i) + String(d) + imei.slice(i + 1);
            if (/^0{14}/.test(changed)) continue; // all-zero body: rejected for another reason
            assert.equal(parseDevice(changed).ok, false, `${imei} -> ${changed}`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("fails the check digit for every adjacent transposition except 09/90 (property)", () => {
    fc.assert(
      fc.property(imeis, (imei) => {
        for (let i = 0; i < 14; i++) {
          const a = imei[i]!;
          const b = imei[i + 1]!;
          if (a === b || (a === "0" && b === "9") || (a === "9" && b === "0")) continue;
          const swapped = imei.slice(0, i) + b + a + imei.slice(i + 2);
          assert.equal(parseDevice(swapped).ok, false, `${imei} -> ${swapped}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("masks identifiers for logs, keeping the TAC", () => {
    assert.equal(mask("490154203237518"), "49015420*****18");
    assert.equal(mask("49015420323751"), "49015420****51");
  });
});
