import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { DeviceStatus, Reason } from "../../gen/imeifed/v1/device_pb.js";
import { CheckDevicesResponseSchema } from "../../gen/imeifed/v1/registry_pb.js";
import { decodeCheckDevicesResponse } from "../../gateway/upstream/check-devices-decoder.js";

const encode = (init: Parameters<typeof create<typeof CheckDevicesResponseSchema>>[1]) => Buffer.from(toBinary(CheckDevicesResponseSchema, create(CheckDevicesResponseSchema, init)));
const same = (bytes: Buffer) => assert.deepStrictEqual(decodeCheckDevicesResponse(bytes), fromBinary(CheckDevicesResponseSchema, bytes));

const check = fc.record(
  {
    deviceKey: fc.oneof(fc.stringMatching(/^\d{14}$/), fc.string(), fc.constant("")),
    status: fc.oneof(fc.constantFrom(0, 1, 2, 3), fc.integer({ min: -2_000_000_000, max: 2_000_000_000 })),
    cacheMaxAge: fc.record({ seconds: fc.oneof(fc.constantFrom(0n, 60n, 3_600n), fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n })), nanos: fc.oneof(fc.constant(0), fc.integer({ min: -999_999_999, max: 999_999_999 })) }),
    finding: fc.record({ country: fc.constantFrom("GB", "ES"), deviceKey: fc.stringMatching(/^\d{14}$/), status: fc.constantFrom(DeviceStatus.PROHIBITED, DeviceStatus.TRACKED), reason: fc.constant(Reason.STOLEN) }),
  },
  { requiredKeys: ["deviceKey", "status"] },
);

describe("gateway CheckDevicesResponse decoder", () => {
  it("decodes plain checks as fromBinary does, sharing one Duration between equal cache_max_age values", () => {
    const bytes = encode({ checks: [1, 2, 3].map((i) => ({ deviceKey: `8610000000000${i}`, status: DeviceStatus.PERMITTED, cacheMaxAge: { seconds: 3_600n } })) });
    same(bytes);
    const decoded = decodeCheckDevicesResponse(bytes);
    assert.equal(decoded.checks[0]!.cacheMaxAge, decoded.checks[2]!.cacheMaxAge);
  });

  it("decodes a check with a finding, an empty check and an empty response as fromBinary does", () => {
    same(encode({ checks: [{ deviceKey: "35693803000001", status: DeviceStatus.PROHIBITED, finding: { country: "GB", status: DeviceStatus.PROHIBITED }, cacheMaxAge: { seconds: 60n } }, {}, { deviceKey: "1" }] }));
    same(encode({ checks: [] }));
  });

  it("falls back to fromBinary for unknown fields, repeated fields and long varints", () => {
    const plain = encode({ checks: [{ deviceKey: "86100000000001", status: DeviceStatus.PERMITTED }] });
    same(Buffer.concat([plain, Buffer.from([0x20, 0x05])])); // unknown field 4 of the response
    same(Buffer.concat([plain, Buffer.from([0x10, 0x05])])); // listed_indexes unpacked
    same(Buffer.concat([plain, Buffer.from([0x1a, 0x02, 0x08, 0x01, 0x1a, 0x02, 0x10, 0x02])])); // unlisted_cache_max_age twice: merged
    // A check whose status appears twice (the last wins in fromBinary).
    same(Buffer.from([0x0a, 0x04, 0x10, 0x01, 0x10, 0x02]));
    // An unknown field 9 inside a check.
    same(Buffer.from([0x0a, 0x02, 0x48, 0x01]));
    same(encode({ checks: [{ deviceKey: "x", status: -1 as DeviceStatus, cacheMaxAge: { seconds: 2n ** 40n, nanos: -5 } }] }));
  });

  it("decodes sparse answers as fromBinary does: listed checks, their positions, the unlisted max age (empty and all-listed included)", () => {
    const listed = { deviceKey: "35693803000001", status: DeviceStatus.PROHIBITED, finding: { country: "GB", status: DeviceStatus.PROHIBITED }, cacheMaxAge: { seconds: 60n } };
    same(encode({ checks: [listed], listedIndexes: [4_000], unlistedCacheMaxAge: { seconds: 3_600n } }));
    same(encode({ checks: [], listedIndexes: [], unlistedCacheMaxAge: { seconds: 0n } }));
    same(encode({ checks: [listed, listed], listedIndexes: [0, 1], unlistedCacheMaxAge: { seconds: 3_600n } }));
    const empty = decodeCheckDevicesResponse(encode({ checks: [], listedIndexes: [], unlistedCacheMaxAge: {} }));
    assert.notEqual(empty.unlistedCacheMaxAge, undefined, "an empty sparse answer still carries its marker");
    // Packed positions split over two fields are concatenated, as fromBinary does.
    same(Buffer.from([0x12, 0x01, 0x03, 0x12, 0x02, 0x80, 0x01, 0x1a, 0x00]));
    same(Buffer.from([0x12, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f])); // a position beyond 2^28
  });

  it("rejects truncated bytes as fromBinary does", () => {
    const plain = encode({ checks: [{ deviceKey: "86100000000001", status: DeviceStatus.PERMITTED, cacheMaxAge: { seconds: 1n } }] });
    const cut = plain.subarray(0, plain.length - 3);
    assert.throws(() => fromBinary(CheckDevicesResponseSchema, cut));
    assert.throws(() => decodeCheckDevicesResponse(cut));
  });

  it("equals fromBinary on generated responses", () => {
    fc.assert(
      fc.property(fc.array(check, { maxLength: 20 }), (checks) => {
        same(encode({ checks }));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.array(check, { maxLength: 5 }), fc.array(fc.oneof(fc.nat({ max: 20_000 }), fc.constant(2 ** 32 - 1)), { maxLength: 8 }), fc.option(fc.record({ seconds: fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }), nanos: fc.integer({ min: -999_999_999, max: 999_999_999 }) }, { requiredKeys: [] }), { nil: undefined }), (checks, listedIndexes, unlistedCacheMaxAge) => {
        same(encode({ checks, listedIndexes, ...(unlistedCacheMaxAge ? { unlistedCacheMaxAge } : {}) }));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
        const outcome = (decode: () => unknown) => {
          try {
            return decode();
          } catch {
            return "throws";
          }
        };
        assert.deepStrictEqual(outcome(() => decodeCheckDevicesResponse(Buffer.from(bytes))), outcome(() => fromBinary(CheckDevicesResponseSchema, Buffer.from(bytes))));
      }),
      { numRuns: 1_000 },
    );
  });
});
