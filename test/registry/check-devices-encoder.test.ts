import assert from "node:assert/strict";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import fc from "fast-check";
import { DeviceStatus, Reason } from "../../gen/imeifed/v1/device_pb.js";
import { CheckDevicesResponseSchema, DeviceCheckSchema } from "../../gen/imeifed/v1/registry_pb.js";
import { encodeCheckDevicesResponse } from "../../services/registry/check-devices-encoder.js";
import { serviceDefinition } from "../../rpc/index.js";
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";

type ResponseInit = MessageInitShape<typeof CheckDevicesResponseSchema>;

const reference = (init: ResponseInit) => Buffer.from(toBinary(CheckDevicesResponseSchema, create(CheckDevicesResponseSchema, init)));
const same = (init: ResponseInit) => {
  const bytes = encodeCheckDevicesResponse(init);
  const expected = reference(init);
  assert.deepEqual(bytes, expected);
  assert.deepStrictEqual(fromBinary(CheckDevicesResponseSchema, bytes), fromBinary(CheckDevicesResponseSchema, expected));
};

const duration = fc.oneof(
  fc.constant({ seconds: 300n }),
  fc.constant({}),
  fc.record({ seconds: fc.oneof(fc.constantFrom(0n, 1n, 127n, 128n, 3_600n, 2n ** 28n - 1n, 2n ** 28n), fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n })), nanos: fc.oneof(fc.constant(0), fc.integer({ min: -999_999_999, max: 999_999_999 })) }, { requiredKeys: [] }),
);
const check = fc.record(
  {
    deviceKey: fc.oneof(fc.stringMatching(/^\d{14}$/), fc.string(), fc.string({ unit: "grapheme" }), fc.constant(""), fc.string({ minLength: 120, maxLength: 300 })),
    status: fc.oneof(fc.constantFrom(0, 1, 2, 3), fc.integer({ min: -2_000_000_000, max: 2_000_000_000 })),
    cacheMaxAge: duration,
    finding: fc.record({ country: fc.constantFrom("GB", "ES"), deviceKey: fc.stringMatching(/^\d{14}$/), status: fc.constantFrom(DeviceStatus.PROHIBITED, DeviceStatus.TRACKED), reason: fc.constant(Reason.STOLEN), caseToken: fc.string() }, { requiredKeys: ["country"] }),
  },
  { requiredKeys: [] },
);

describe("registry CheckDevicesResponse encoder", () => {
  it("writes plain PERMITTED checks sharing one cache_max_age as toBinary does", () => {
    const cacheMaxAge = { seconds: 300n };
    same({ checks: [1, 2, 3].map((i) => ({ deviceKey: `8610000000000${i}`, status: DeviceStatus.PERMITTED, cacheMaxAge })) });
  });

  it("writes a check with a finding, an empty check, a zero cache_max_age and an empty response as toBinary does", () => {
    same({ checks: [{ deviceKey: "35693803000001", status: DeviceStatus.PROHIBITED, finding: { country: "GB", status: DeviceStatus.PROHIBITED, attestation: "a.b.c" }, cacheMaxAge: { seconds: 60n } }, {}, { deviceKey: "1", cacheMaxAge: { seconds: 0n } }] });
    same({ checks: [] });
    same({});
  });

  it("writes messages made with create, and values outside the plain shape, as toBinary does", () => {
    same(create(CheckDevicesResponseSchema, { checks: [create(DeviceCheckSchema, { deviceKey: "86100000000001", status: DeviceStatus.PERMITTED })] }));
    same({ checks: [{ deviceKey: "ключ-🙂", status: -1 as DeviceStatus, cacheMaxAge: { seconds: 2n ** 40n, nanos: -5 } }] });
    same({ checks: [{ deviceKey: "\ud800x", status: DeviceStatus.TRACKED }] }); // a lone surrogate: toBinary's UTF-8 decides
  });

  it("equals toBinary on generated responses", () => {
    fc.assert(
      fc.property(fc.array(check, { maxLength: 30 }), (checks) => same({ checks })),
      { numRuns: 400 },
    );
  });

  it("writes sparse answers (listed_indexes, unlisted_cache_max_age) as toBinary does, an empty and a zero one included", () => {
    const cacheMaxAge = { seconds: 300n };
    same({ checks: [{ deviceKey: "35693803000001", status: DeviceStatus.PROHIBITED, finding: { country: "GB", status: DeviceStatus.PROHIBITED }, cacheMaxAge }], listedIndexes: [7], unlistedCacheMaxAge: cacheMaxAge });
    same({ checks: [], listedIndexes: [], unlistedCacheMaxAge: cacheMaxAge });
    same({ checks: [], listedIndexes: [], unlistedCacheMaxAge: { seconds: 0n } });
    same({ checks: [], listedIndexes: [0, 127, 128, 16_383, 16_384, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1], unlistedCacheMaxAge: {} });
    same({ checks: [], listedIndexes: [], unlistedCacheMaxAge: { seconds: -1n, nanos: -5 } });
    // The sparse marker is set even on an empty answer, so a reader tells it from a full one.
    assert.deepEqual([...encodeCheckDevicesResponse({ checks: [], listedIndexes: [], unlistedCacheMaxAge: { seconds: 0n } })], [0x1a, 0x00]);
  });

  it("equals toBinary on generated sparse answers", () => {
    fc.assert(
      fc.property(fc.array(check, { maxLength: 10 }), fc.array(fc.oneof(fc.nat({ max: 20_000 }), fc.constant(2 ** 32 - 1)), { maxLength: 10 }), fc.option(duration, { nil: undefined }), (checks, listedIndexes, unlistedCacheMaxAge) =>
        same({ checks, listedIndexes, ...(unlistedCacheMaxAge ? { unlistedCacheMaxAge } : {}) }),
      ),
      { numRuns: 400 },
    );
  });

  it("is refused for a method the service does not have", () => {
    assert.throws(() => serviceDefinition(RegistryService, { checkDevicez: { response: { encode: encodeCheckDevicesResponse } } } as never), /no method checkDevicez/);
  });
});
