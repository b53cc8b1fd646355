import assert from "node:assert/strict";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import fc from "fast-check";
import { DeviceStatus, Reason } from "../../gen/imeifed/v1/device_pb.js";
import { CheckDevicesStreamRequestSchema, CheckDevicesStreamResponseSchema } from "../../gen/imeifed/v1/registry_pb.js";
import { decodeCheckDevicesStreamResponse, encodeCheckDevicesStreamRequest } from "../../gateway/upstream/check-stream-codec.js";
import { encodeCheckDevicesStreamResponse } from "../../services/registry/check-devices-stream-codec.js";

type RequestInit = MessageInitShape<typeof CheckDevicesStreamRequestSchema>;
type ResponseInit = MessageInitShape<typeof CheckDevicesStreamResponseSchema>;

const requestBytes = (init: RequestInit) => Buffer.from(toBinary(CheckDevicesStreamRequestSchema, create(CheckDevicesStreamRequestSchema, init)));
const responseBytes = (init: ResponseInit) => Buffer.from(toBinary(CheckDevicesStreamResponseSchema, create(CheckDevicesStreamResponseSchema, init)));

const id = fc.oneof(fc.constantFrom(0n, 1n, 127n, 128n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n + 1n, 2n ** 55n + 3n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
const imei = fc.oneof(fc.stringMatching(/^\d{14,16}$/), fc.string(), fc.string({ unit: "grapheme" }));
const request = fc.record({ id, batch: fc.record({ imeis: fc.array(imei, { maxLength: 20 }), purpose: fc.oneof(fc.constant(""), fc.string({ unit: "grapheme" }), fc.string({ minLength: 130, maxLength: 300 })) }, { requiredKeys: [] }), traceContext: fc.dictionary(fc.constantFrom("traceparent", "tracestate"), fc.string()) }, { requiredKeys: [] });
const check = fc.record(
  {
    deviceKey: fc.oneof(fc.stringMatching(/^\d{14}$/), fc.string()),
    status: fc.constantFrom(DeviceStatus.PERMITTED, DeviceStatus.PROHIBITED, DeviceStatus.TRACKED),
    cacheMaxAge: fc.oneof(fc.constant({ seconds: 300n }), fc.constant({})),
    finding: fc.record({ country: fc.constantFrom("GB", "ES"), status: fc.constant(DeviceStatus.PROHIBITED), reason: fc.constant(Reason.STOLEN) }),
  },
  { requiredKeys: [] },
);
const response = fc.record(
  {
    id,
    result: fc.oneof(
      fc.record({ case: fc.constant("checks" as const), value: fc.record({ checks: fc.array(check, { maxLength: 10 }) }) }),
      fc.record({ case: fc.constant("error" as const), value: fc.record({ code: fc.integer({ min: 0, max: 16 }), reason: fc.string(), message: fc.string(), retryAfterMs: fc.nat() }) }),
    ),
  },
  { requiredKeys: [] },
);

describe("CheckDevicesStream hand-written codecs", () => {
  it("gateway request encoder writes what toBinary writes", () => {
    fc.assert(fc.property(request, (init) => assert.deepEqual(encodeCheckDevicesStreamRequest(init), requestBytes(init))), { numRuns: 500 });
    assert.deepEqual(encodeCheckDevicesStreamRequest({ id: 7n, batch: { imeis: ["35209900176148"], purpose: "case GB-1" } }), requestBytes({ id: 7n, batch: { imeis: ["35209900176148"], purpose: "case GB-1" } }));
  });

  it("registry response encoder writes what toBinary writes", () => {
    fc.assert(fc.property(response, (init) => assert.deepEqual(encodeCheckDevicesStreamResponse(init), responseBytes(init))), { numRuns: 500 });
  });

  it("gateway response decoder reads what fromBinary reads", () => {
    fc.assert(fc.property(response, (init) => {
      const bytes = responseBytes(init);
      assert.deepStrictEqual(decodeCheckDevicesStreamResponse(bytes), fromBinary(CheckDevicesStreamResponseSchema, bytes));
    }), { numRuns: 500 });
  });
});
