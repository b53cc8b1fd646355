import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { CheckDevicesRequestSchema } from "../../gen/imeifed/v1/registry_pb.js";
import { decodeCheckDevicesRequest } from "../../services/registry/check-devices-request-decoder.js";
import { admittedRequest } from "../support/admitted-request.js";

const same = (bytes: Buffer) => assert.deepStrictEqual(admittedRequest(CheckDevicesRequestSchema, decodeCheckDevicesRequest, bytes), admittedRequest(CheckDevicesRequestSchema, (b) => fromBinary(CheckDevicesRequestSchema, b), bytes));
const encode = (imeis: string[], purpose: string, listedOnly = false) => Buffer.from(toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, { imeis, purpose, listedOnly })));

describe("registry CheckDevicesRequest decoder", () => {
  it("decodes IMEIs and the purpose as fromBinary does", () => {
    const bytes = encode(["356938035643809", "", "35693803564380", "x".repeat(300)], "CUSTOMS-DEC-1");
    same(bytes);
    assert.deepEqual(decodeCheckDevicesRequest(bytes).imeis, ["356938035643809", "", "35693803564380", "x".repeat(300)]);
    same(encode([], ""));
  });

  it("decodes listed_only as fromBinary does, a bool written in any varint form included", () => {
    const bytes = encode(["356938035643809"], "A", true);
    same(bytes);
    assert.equal(decodeCheckDevicesRequest(bytes).listedOnly, true);
    same(Buffer.concat([encode(["356938035643809"], "A"), Buffer.from([0x18, 0x00])]));
    same(Buffer.concat([encode(["356938035643809"], "A"), Buffer.from([0x18, 0x02])])); // any non-zero varint is true
    same(Buffer.concat([encode(["356938035643809"], "A"), Buffer.from([0x18, 0x81, 0x00])])); // a two-byte 1
    same(Buffer.concat([encode([], ""), Buffer.from([0x18])])); // truncated
  });

  it("agrees with fromBinary on non-ASCII strings, unknown fields, a repeated purpose and truncated bytes", () => {
    same(encode(["3569380356438０9", "ключ 🙂"], "düty"));
    same(Buffer.concat([encode(["356938035643809"], "A"), Buffer.from([0x20, 0x01])])); // unknown varint field 4
    same(Buffer.concat([encode(["356938035643809"], "A"), encode([], "B")])); // the last purpose wins
    const cut = encode(["356938035643809"], "PURPOSE");
    same(cut.subarray(0, cut.length - 2));
    same(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])); // a length far beyond the bytes
  });

  it("refuses what the contract's text rule refuses, with the error the general check gives", () => {
    const refused = (bytes: Buffer, expected: RegExp) => {
      same(bytes);
      assert.match(String(admittedRequest(CheckDevicesRequestSchema, decodeCheckDevicesRequest, bytes)), expected);
    };
    refused(encode(["356938035643809", "35693803564380\u0000"], "A"), /^CONTROL_CHARACTER imeis\[1\]: /);
    refused(encode(["356938035643809"], "CASE-1\r\n"), /^CONTROL_CHARACTER purpose: /);
    refused(encode(["7".repeat(65)], "A"), /^TOO_LONG imeis\[0\]: is 65 characters long/);
    refused(encode([], "P".repeat(201)), /^TOO_LONG purpose: /);
    refused(encode([], "CASE\u202e1"), /^CONTROL_CHARACTER purpose: /); // not ASCII: fromBinary decodes it
    same(Buffer.concat([encode([], "A\u0000"), encode([], "B")])); // the last purpose wins, for the rule too
  });

  it("equals fromBinary on generated requests and on arbitrary bytes", () => {
    const controls = fc.string({ unit: fc.constantFrom("a", "1", "\u0000", "\t", "\r", "\n", "\u001b", "\u007f", "\u0085", "\u2028", "\u202e", "é"), maxLength: 6 });
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.stringMatching(/^\d{14,16}$/), fc.string(), fc.string({ unit: "grapheme" }), controls, fc.constant("7".repeat(65))), { maxLength: 40 }), fc.oneof(fc.string(), controls), fc.boolean(), (imeis, purpose, listedOnly) => same(encode(imeis, purpose, listedOnly))),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => same(Buffer.from(bytes))),
      { numRuns: 1_000 },
    );
  });
});
