import assert from "node:assert/strict";
import fc from "fast-check";
import { ScreeningDecision, ScreeningOutcome, UnansweredPolicy, UnansweredReason } from "../../gen/imeifed/v1/federation_pb.js";
import { SeenDevices } from "../../gateway/screening/seen-devices.js";
import { plainDeviceKey } from "../../device/plain-device-key.js";
import { luhnCheckDigit, parseDevice } from "../../device/index.js";
import { makesAgree } from "../../manifest/declared-make.js";
import { screeningDecision, ScreeningTally } from "../../gateway/screening/screening-tally.js";

describe("screening rules", () => {
  describe("seen devices", () => {
    it("answers the first index of a key seen before, and agrees with a Map on random keys", () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 4000 }), (serials) => {
          const seen = new SeenDevices();
          const reference = new Map<number, number>();
          serials.forEach((serial, index) => {
            const key = 35693803_000000 + serial;
            assert.equal(seen.firstSeen(key, index), reference.get(key));
            if (!reference.has(key)) reference.set(key, index);
          });
          assert.equal(seen.size, reference.size);
        }),
        { numRuns: 50 },
      );
    });

    it("tells apart keys that share a low or a high word, over the whole key range", () => {
      const edges = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 99_999_999_999_999, 99_999_999_999_998];
      const key = fc.oneof(fc.constantFrom(...edges), fc.integer({ min: 0, max: 99_999_999_999_999 }), fc.integer({ min: 0, max: 20 }).map((k) => k * 2 ** 32 + 12_345));
      fc.assert(
        fc.property(fc.array(key, { maxLength: 3000 }), (keys) => {
          const seen = new SeenDevices();
          const reference = new Map<number, number>();
          keys.forEach((k, index) => {
            assert.equal(seen.firstSeen(k, index), reference.get(k));
            if (!reference.has(k)) reference.set(k, index);
          });
          assert.equal(seen.size, reference.size);
        }),
        { numRuns: 100 },
      );
    });

    it("holds a million device keys in a few tens of megabytes", () => {
      const seen = new SeenDevices();
      for (let i = 0; i < 1_000_000; i++) assert.equal(seen.firstSeen(35693803_000000 + i * 7, i), undefined);
      assert.equal(seen.firstSeen(35693803_000000 + 7 * 999_999, 5), 999_999);
      assert.equal(seen.size, 1_000_000);
      assert.ok(seen.bytes <= 2 ** 21 * 12, `${seen.bytes} bytes`);
    });
  });

  describe("plain device keys", () => {
    /** What parseDevice makes of `input` as a number key, or -1 when it refuses it. */
    const reference = (input: string) => {
      const parsed = parseDevice(input, "device_id");
      return parsed.ok ? Number(parsed.device.key) : -1;
    };
    const valid = (body: string) => body + String(luhnCheckDigit(body));

    it("keys plain 14, 15 and 16 digits exactly as parseDevice does, over generated identifiers", () => {
      const body = fc.stringMatching(/^\d{14}$/);
      const input = fc.oneof(
        body.map(valid), // a valid IMEI
        body, // a 14-digit body
        fc.tuple(body, fc.stringMatching(/^\d{2}$/)).map(([b, sv]) => b + sv), // an IMEISV
        fc.stringMatching(/^\d{13,17}$/), // any digits, most with a wrong check digit or length
        fc.constantFrom("00000000000000", "000000000000000", "0000000000000000", "00000000000001"), // all zeros and nearly
        fc.string({ minLength: 14, maxLength: 16 }), // anything
        fc.stringMatching(/^\d{14}$/).map((b) => `${b.slice(0, 7)}-${b.slice(7)}`), // separators: not plain
        body.map((b) => ` ${valid(b)}`), // whitespace: not plain
      );
      fc.assert(
        fc.property(input, (id) => {
          const plain = plainDeviceKey(id);
          // Plain: the same key as parseDevice. Otherwise left to parseDevice (which may still accept it).
          if (plain >= 0) assert.equal(plain, reference(id), id);
          else if (/^\d{14,16}$/.test(id)) assert.equal(reference(id), -1, `${id} is plain and valid but was left to parseDevice`);
        }),
        { numRuns: 5_000 },
      );
    });

    it("leaves a failed check digit, all zeros, wrong lengths and non-digits to parseDevice", () => {
      for (const id of ["356938035643800", "00000000000000", "3569380356438", "35693803564380012", "35693803564380a", "imei-356938035643809", "٣٥٦٩٣٨٠٣٥٦٤٣٨٠٩"]) {
        assert.equal(plainDeviceKey(id), -1, id);
      }
      assert.equal(plainDeviceKey("356938035643809"), 35693803564380);
      assert.equal(plainDeviceKey("3569380356438012"), 35693803564380);
      assert.equal(plainDeviceKey("35693803564380"), 35693803564380);
    });
  });

  describe("declared make", () => {
    it("forgives case, spacing, punctuation, accents and a company suffix", () => {
      assert.ok(makesAgree("Samsung", "SAMSUNG"));
      assert.ok(makesAgree("Samsung", "Samsung Electronics Co., Ltd."));
      assert.ok(makesAgree("Sony Ericsson", "sony-ericsson"));
      assert.ok(makesAgree("Alcatel", "ALCATÉL"));
      assert.ok(makesAgree("Apple", "")); // nothing declared: nothing to disagree with
    });
    it("catches a real disagreement", () => {
      assert.ok(!makesAgree("Apple", "Samsung"));
      assert.ok(!makesAgree("Nokia", "No")); // too short to count as a prefix
      assert.ok(!makesAgree("Xiaomi", "Huawei"));
    });
  });

  describe("decision", () => {
    const counts = (entries: [ScreeningOutcome, number][]) => new Map(entries);
    it("holds on any evidence, whatever the policy", () => {
      for (const outcome of [ScreeningOutcome.PROHIBITED, ScreeningOutcome.TRACKED, ScreeningOutcome.MALFORMED, ScreeningOutcome.DUPLICATE, ScreeningOutcome.MODEL_MISMATCH]) {
        assert.equal(screeningDecision(counts([[ScreeningOutcome.CLEAR, 10], [outcome, 1]]), false, UnansweredPolicy.PASS), ScreeningDecision.HOLD, ScreeningOutcome[outcome]);
      }
    });
    it("holds on an outage only when the policy says hold (or says nothing)", () => {
      const clear = counts([[ScreeningOutcome.CLEAR, 5], [ScreeningOutcome.UNANSWERED, 5]]);
      assert.equal(screeningDecision(clear, true, UnansweredPolicy.HOLD), ScreeningDecision.HOLD);
      assert.equal(screeningDecision(clear, true, UnansweredPolicy.UNSPECIFIED), ScreeningDecision.HOLD);
      assert.equal(screeningDecision(clear, true, UnansweredPolicy.PASS), ScreeningDecision.RELEASE);
      assert.equal(screeningDecision(clear, false, UnansweredPolicy.HOLD), ScreeningDecision.RELEASE);
    });
    it("lists a refusing registry without holding for it", () => {
      const tally = new ScreeningTally();
      tally.add(ScreeningOutcome.CLEAR, 3);
      tally.noteUnanswered([{ country: "JP", reason: UnansweredReason.REFUSED, detail: "sharing policy" } as never]);
      assert.equal(tally.decision(UnansweredPolicy.HOLD), ScreeningDecision.RELEASE);
      tally.noteUnanswered([{ country: "ES", reason: UnansweredReason.UNAVAILABLE, detail: "down" } as never]);
      assert.equal(tally.decision(UnansweredPolicy.HOLD), ScreeningDecision.HOLD);
      const summary = tally.summary("DEC-1", UnansweredPolicy.HOLD);
      assert.deepEqual(summary.unanswered.map((u) => u.country), ["ES", "JP"]);
      assert.equal(summary.itemsScreened, 3n);
      assert.equal(summary.counts.find((c) => c.outcome === ScreeningOutcome.CLEAR)?.count, 3n);
    });
  });
});
