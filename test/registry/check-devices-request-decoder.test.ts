import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { CheckDevicesRequestSchema } from "../../gen/imeifed/v1/registry_pb.js";
import { decodeCheckDevicesRequest } from "../../services/registry/check-devices-request-decoder.js";

/** Both decoders' outcome: the message, or that it threw. */
function outcome(decode: () => unknown): unknown {
  try {
    return decode();
  } catch {
    return "throws";
  }
}

const same = (bytes: Buffer) =>
  assert.deepStrictEqual(
    outcome(() => decodeCheckDevicesRequest(bytes)),
    outcome(() => fromBinary(CheckDevicesRequestSchema, bytes)),
  );
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

  it("equals fromBinary on generated requests and on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.stringMatching(/^\d{14,16}$/), fc.string(), fc.string({ unit: "grapheme" })), { maxLength: 40 }), fc.string(), fc.boolean(), (imeis, purpose, listedOnly) => same(encode(imeis, purpose, listedOnly))),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => same(Buffer.from(bytes))),
      { numRuns: 1_000 },
    );
  });
});
