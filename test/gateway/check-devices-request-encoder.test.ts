import assert from "node:assert/strict";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import fc from "fast-check";
import { CheckDevicesRequestSchema } from "../../gen/imeifed/v1/registry_pb.js";
import { encodeCheckDevicesRequest } from "../../gateway/upstream/check-devices-request-encoder.js";

type RequestInit = MessageInitShape<typeof CheckDevicesRequestSchema>;

const same = (init: RequestInit) => assert.deepEqual(encodeCheckDevicesRequest(init), Buffer.from(toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, init))));

describe("gateway CheckDevicesRequest encoder", () => {
  it("writes IMEIs, the purpose and listed_only as toBinary does", () => {
    same({ imeis: ["356938035643809", "35693803564380", ""], purpose: "DEC-1", listedOnly: true });
    same({ imeis: ["356938035643809"], purpose: "", listedOnly: false });
    same({ imeis: ["x".repeat(300)], purpose: "p".repeat(200) });
    same({});
  });

  it("writes non-ASCII and lone-surrogate strings as toBinary's UTF-8 does, and messages made with create", () => {
    same({ imeis: ["3569380356438０9", "ключ 🙂", "\ud800x"], purpose: "düty" });
    same(create(CheckDevicesRequestSchema, { imeis: ["356938035643809"], purpose: "A", listedOnly: true }));
  });

  it("writes batches of same-length keys (the joined fast path) as toBinary does, non-ASCII and long ones included", () => {
    same({ imeis: ["35693803000001", "35693803000002", "86100000000003"], purpose: "DEC-1", listedOnly: true });
    same({ imeis: ["3569380300000é", "35693803000002"], purpose: "" }); // latin1 is not UTF-8 here
    same({ imeis: ["x".repeat(127), "y".repeat(127)] });
    same({ imeis: ["x".repeat(128), "y".repeat(128)] });
  });

  it("encodes a bulk list asked of several registries once, and a different purpose or flag on the same list anew", () => {
    const imeis = Array.from({ length: 300 }, (_, i) => String(35693803000000 + i));
    const first = encodeCheckDevicesRequest({ imeis, purpose: "DEC-1", listedOnly: true });
    assert.equal(encodeCheckDevicesRequest({ imeis, purpose: "DEC-1", listedOnly: true }), first, "the same bytes, not encoded again");
    same({ imeis, purpose: "DEC-2", listedOnly: true });
    same({ imeis, purpose: "DEC-1", listedOnly: false });
    same({ imeis, purpose: "DEC-1", listedOnly: true });
  });

  it("equals toBinary on generated requests", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.stringMatching(/^\d{14,16}$/), fc.string(), fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" })), { maxLength: 40 }), fc.string({ unit: "grapheme" }), fc.boolean(), (imeis, purpose, listedOnly) =>
        same({ imeis, purpose, listedOnly }),
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 140 }).chain((n) => fc.array(fc.string({ minLength: n, maxLength: n, unit: fc.constantFrom("0", "7", "é", "\u0080", "🙂") }), { minLength: 1, maxLength: 20 })), fc.boolean(), (imeis, listedOnly) =>
        same({ imeis, purpose: "P", listedOnly }),
      ),
      { numRuns: 300 },
    );
  });
});
