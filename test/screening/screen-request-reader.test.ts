import assert from "node:assert/strict";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import fc from "fast-check";
import { ScreenRequestSchema, UnansweredPolicy, type ManifestItem, type ScreenRequest } from "../../gen/imeifed/v1/federation_pb.js";
import { readScreenRequest, type ScreenRequestRead } from "../../gateway/screening/screen-request-reader.js";
import { ManifestTextBatch, type ManifestBatch } from "../../gateway/screening/manifest-batch.js";
import { plainDeviceKey } from "../../device/index.js";
import { admittedRequest } from "../support/admitted-request.js";

/** A batch's items as messages, with a check that every accessor screening uses agrees with them (the key number with plainDeviceKey, the key with its first 14 digits). */
function itemsOf(batch: ManifestBatch): ManifestItem[] {
  const items = Array.from({ length: batch.length }, (_, i) => batch.itemAt(i));
  items.forEach((item, i) => {
    assert.equal(batch.keyNumberAt(i), plainDeviceKey(item.deviceId));
    if (batch.keyNumberAt(i) >= 0) assert.equal(batch.plainKeyAt(i), item.deviceId.slice(0, 14));
    assert.deepEqual([batch.deviceIdAt(i), batch.declaredMakeAt(i)], [item.deviceId, item.declaredMake]);
  });
  return items;
}

/** What was read, as the generated message it stands for (to compare with fromBinary's). */
function asMessage(read: ScreenRequestRead): ScreenRequest {
  const message: ScreenRequest["message"] =
    read.case === "shipment"
      ? { case: "shipment", value: read.shipment }
      : read.case === "items"
        ? { case: "items", value: { $typeName: "imeifed.v1.ManifestItems", items: itemsOf(read.batch) } }
        : { case: undefined };
  return { $typeName: "imeifed.v1.ScreenRequest", message };
}

/** The reader's reading, as a message. */
const readMessage = (bytes: Buffer) => asMessage(readScreenRequest(bytes));

/** fromBinary's message without the unknown fields of the request and of its ManifestItems, which a read request does not keep (the handler reads none; an item's are kept with it). */
function withoutUnknown(message: ScreenRequest): ScreenRequest {
  const { $unknown: _unknown, ...known } = message;
  if (known.message.case !== "items") return known as ScreenRequest;
  const { $unknown: _itemsUnknown, ...items } = known.message.value;
  return { ...known, message: { case: "items", value: items } } as ScreenRequest;
}

const same = (bytes: Buffer) =>
  assert.deepStrictEqual(
    admittedRequest<ScreenRequestRead>(ScreenRequestSchema, readScreenRequest, bytes, asMessage),
    admittedRequest<ScreenRequest>(ScreenRequestSchema, (b) => fromBinary(ScreenRequestSchema, b), bytes, withoutUnknown),
  );
const encode = (init: MessageInitShape<typeof ScreenRequestSchema>) => Buffer.from(toBinary(ScreenRequestSchema, create(ScreenRequestSchema, init)));
const items = (list: { deviceId?: string; declaredMake?: string; declaredModel?: string; lineReference?: string }[]) => encode({ message: { case: "items", value: { items: list } } });

describe("gateway ScreenRequest reader", () => {
  it("decodes manifest items as fromBinary does, empty fields and an empty batch included", () => {
    const bytes = items([{ deviceId: "356938035643809", declaredMake: "Samsung", declaredModel: "A52", lineReference: "L1" }, { deviceId: "35693803564380" }, {}]);
    same(bytes);
    const read = readMessage(bytes);
    assert.equal(read.message.case, "items");
    assert.deepEqual(read.message.case === "items" && read.message.value.items.map((i) => i.deviceId), ["356938035643809", "35693803564380", ""]);
    same(items([]));
  });

  it("reads a manifest batch of plain ASCII items by position, without item objects, whatever bytes its lengths take", () => {
    // 300 items: the message's and items' lengths take varint bytes >= 0x80, which are not text.
    const list = Array.from({ length: 300 }, (_, i) => ({ deviceId: i === 7 ? "35-693803-564380-9" : "356938035643809", declaredMake: i % 2 ? "Apple" : "", lineReference: `L${i}` }));
    const bytes = items(list);
    const read = readScreenRequest(bytes);
    assert.ok(read.case === "items" && read.batch instanceof ManifestTextBatch, "a batch read by position");
    const { batch } = read;
    assert.deepEqual([batch.length, batch.keyNumberAt(0), batch.plainKeyAt(0), batch.keyNumberAt(7), batch.deviceIdAt(7), batch.declaredMakeAt(1)], [300, 35693803564380, "35693803564380", -1, "35-693803-564380-9", "Apple"]);
    same(bytes);
  });

  it("decodes non-ASCII fields as protobuf-es does (a leading BOM kept), and refuses invalid UTF-8 alike", () => {
    same(items([{ deviceId: "3569380356438０9", declaredMake: "Huawéi 🙂", declaredModel: "\ufeffNova" }]));
    const good = items([{ deviceId: "35693803564380", declaredMake: "ab" }]);
    const bad = Buffer.from(good);
    bad[bad.length - 1] = 0xff; // "a\xff": not UTF-8
    same(bad);
    assert.throws(() => readScreenRequest(bad));
  });

  it("leaves the shipment, unknown fields, repeated items fields and truncated bytes to fromBinary", () => {
    same(encode({ message: { case: "shipment", value: { declarationReference: "DEC-1", destinationCountry: "HK", onUnanswered: UnansweredPolicy.HOLD } } }));
    const plain = items([{ deviceId: "356938035643809" }]);
    same(Buffer.concat([plain, plain])); // two items fields: fromBinary merges them
    same(Buffer.concat([plain, Buffer.from([0x18, 0x01])])); // unknown field 3
    same(Buffer.from([0x12, 0x04, 0x0a, 0x02, 0x48, 0x01])); // an unknown field inside an item
    same(Buffer.from([0x12, 0x06, 0x0a, 0x04, 0x0a, 0x01, 0x31, 0x0a]).subarray(0, 7)); // truncated
    same(Buffer.from([0x12, 0x04, 0x0a, 0x02, 0x0a, 0x05])); // a field longer than its item
    same(Buffer.from([0x12, 0x08, 0x0a, 0x06, 0x0a, 0x01, 0x31, 0x0a, 0x01, 0x32])); // device_id twice: the last wins
    same(Buffer.alloc(0));
  });

  it("refuses what the contract's text rule refuses, with the error the general check gives", () => {
    const refused = (list: Parameters<typeof items>[0], expected: RegExp) => {
      same(items(list));
      assert.match(String(admittedRequest(ScreenRequestSchema, readScreenRequest, items(list))), expected);
    };
    refused([{ deviceId: "356938035643809" }, { deviceId: "356938035643809", lineReference: "L\u00002" }], /^CONTROL_CHARACTER items\.items\[1\]\.line_reference: /);
    refused([{ deviceId: "356938035643809\r\n" }], /^CONTROL_CHARACTER items\.items\[0\]\.device_id: /);
    refused([{ declaredModel: "x".repeat(8192) }], /^TOO_LONG items\.items\[0\]\.declared_model: is 8192 characters long/);
    refused([{ declaredMake: "Ac\u001bme" }, { declaredMake: "é\u0007" }], /^CONTROL_CHARACTER items\.items\[0\]\.declared_make: /);
    refused([{ declaredMake: "Acme" }, { declaredMake: "é\u202e" }], /^CONTROL_CHARACTER items\.items\[1\]\.declared_make: /); // not ASCII: made as objects, checked by the general walk
    // A field given twice is its last value, for the rule as for fromBinary.
    same(Buffer.from([0x12, 0x08, 0x0a, 0x06, 0x22, 0x01, 0x00, 0x22, 0x01, 0x32]));
    same(Buffer.from([0x12, 0x08, 0x0a, 0x06, 0x22, 0x01, 0x32, 0x22, 0x01, 0x00]));
  });

  it("equals fromBinary on generated requests and on arbitrary bytes", () => {
    const controls = fc.string({ unit: fc.constantFrom("a", "1", "\u0000", "\t", "\r", "\n", "\u001b", "\u007f", "\u0085", "\u2028", "\u202e", "é"), maxLength: 6 });
    const text = fc.oneof(fc.stringMatching(/^\d{14,16}$/), fc.string(), fc.string({ unit: "grapheme" }), fc.constant(""), controls, fc.constant("7".repeat(65)));
    fc.assert(
      fc.property(fc.array(fc.record({ deviceId: text, declaredMake: text, declaredModel: text, lineReference: text }, { requiredKeys: [] }), { maxLength: 30 }), (list) => same(items(list))),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => same(Buffer.concat([Buffer.from([0x12, bytes.length]), bytes]))),
      { numRuns: 1_000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => same(Buffer.from(bytes))),
      { numRuns: 1_000 },
    );
  });
});
