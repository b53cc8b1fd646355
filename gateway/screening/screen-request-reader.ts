/**
 * The gateway's reader of Screen requests, the messages a screening gateway
 * reads most: a million-item manifest arrives as a thousand of them, each
 * carrying a thousand ManifestItems. It reads each as a `ScreenRequestRead`
 * (the shipment, or a batch of items read by position), which is what the
 * Screen handler receives (rpc/wire-codecs.ts's request readers).
 *
 * Why: protobuf-es's general `fromBinary` spends a schema walk, a TextDecoder
 * call per string and a reader object on each item, and any item object kept
 * while its chunk waits on the registries is copied by the young-generation
 * collector. An items message whose fields are ASCII (nearly every manifest)
 * becomes a `ManifestTextBatch`: the message's text (one native call), each
 * field's span in it and each plain item's key as a number, with no object or
 * string per item (`manifest-batch.ts`). A message with a field that is not
 * ASCII has its items made as objects, each field decoded as protobuf-es
 * decodes it (strict UTF-8, BOM kept). Anything else (the shipment message,
 * an unknown field, a truncated message, invalid UTF-8) goes to `fromBinary`,
 * so what is read, errors included, equals what `fromBinary` reads (tests
 * compare the two over generated messages and arbitrary bytes), less the
 * unknown fields of the request and of its ManifestItems, which no handler reads.
 *
 * The contract's text rule (contract/) applies to every item as to any
 * request, and the reader applies it itself: a batch whose bytes are all
 * printable ASCII, each field within its limit (nearly every manifest), is
 * proved clean as its bytes are read (each byte looked at once, for ASCII and
 * for controls alike); any other request is walked by the rule's own check,
 * which words the refusal.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { ManifestItemSchema, ScreenRequestSchema, type ManifestItem, type ScreenRequest, type Shipment } from "../../gen/imeifed/v1/federation_pb.js";
import { markTextChecked, requestTextCheck, textLimitOf } from "../../contract/index.js";
import { plainDeviceKey } from "../../device/index.js";
import { readUint32 } from "../../rpc/wire.js";
import { ManifestItemsBatch, ManifestTextBatch, SPAN_WORDS, type ManifestBatch } from "./manifest-batch.js";

/** A Screen request as the gateway reads it. */
export type ScreenRequestRead =
  | { readonly case: "shipment"; readonly shipment: Shipment }
  | { readonly case: "items"; readonly batch: ManifestBatch }
  /** Neither field set (the handler refuses it). */
  | { readonly case: undefined };

/** protobuf-es's decoding of a proto3 string: strict UTF-8, a leading U+FEFF kept as text. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const checkText = requestTextCheck(ScreenRequestSchema);

/**
 * Reads a ScreenRequest: what `fromBinary` reads, as a `ScreenRequestRead`;
 * throws what `fromBinary` throws, or the text rule's INVALID_ARGUMENT.
 */
export function readScreenRequest(bytes: Buffer): ScreenRequestRead {
  const spans = attempt(() => textItems(bytes));
  if (spans) {
    const batch = new ManifestTextBatch(spans.text, spans.spans, spans.keyNumbers, spans.count);
    // A control byte or an over-long field: the rule's own walk words the refusal.
    if (!spans.plainText) checkText(itemsRequest(batch.items()));
    return markTextChecked({ case: "items", batch });
  }
  const message = attempt(() => objectItems(bytes)) ?? fromBinary(ScreenRequestSchema, bytes);
  checkText(message);
  return markTextChecked(readOf(message));
}

/** The generated message of a request, as read. */
function readOf(message: ScreenRequest): ScreenRequestRead {
  switch (message.message.case) {
    case "shipment":
      return { case: "shipment", shipment: message.message.value };
    case "items":
      return { case: "items", batch: new ManifestItemsBatch(message.message.value.items) };
    default:
      return { case: undefined };
  }
}

function itemsRequest(items: ManifestItem[]): ScreenRequest {
  return { $typeName: "imeifed.v1.ScreenRequest", message: { case: "items", value: { $typeName: "imeifed.v1.ManifestItems", items } } };
}

/**
 * A plain reading's result, or undefined where `fromBinary` must decide:
 * the reading gave up (undefined), or protobuf-es's BinaryReader found the
 * bytes end inside a varint (it throws; fromBinary then throws its own error).
 */
function attempt<T>(read: () => T | undefined): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** The contract's text limit of an item's fields, by field number (1-4). */
const ITEM_LIMITS = [0, ...[ManifestItemSchema.field.deviceId!, ManifestItemSchema.field.declaredMake!, ManifestItemSchema.field.declaredModel!, ManifestItemSchema.field.lineReference!].map(textLimitOf)];

/**
 * A reader at the items of a ScreenRequest that holds exactly one `items`
 * field (tag 0x12) spanning the message; undefined for any other shape (a
 * shipment, a second field, too few bytes: fromBinary decides).
 */
function itemsStart(bytes: Buffer): BinaryReader | undefined {
  if (bytes.length === 0 || bytes[0] !== 0x12) return undefined;
  const reader = new BinaryReader(bytes);
  reader.pos = 1;
  const length = readUint32(bytes, reader);
  return reader.pos + length === bytes.length ? reader : undefined;
}

/** Reads one field header inside an item ending at `stop`: its number (1-4), its value from `reader.pos` to the end returned; undefined for any other field or a length past `stop`. */
function fieldAt(bytes: Buffer, reader: BinaryReader, stop: number): { field: number; end: number } | undefined {
  const tag = bytes[reader.pos++]!;
  if (tag !== 0x0a && tag !== 0x12 && tag !== 0x1a && tag !== 0x22) return undefined; // fields 1-4, length-delimited
  const length = readUint32(bytes, reader);
  const end = reader.pos + length;
  return end > stop ? undefined : { field: tag >> 3, end };
}

/** The spans and key numbers of a batch's items (what ManifestTextBatch reads). */
interface ItemSpans {
  text: string;
  spans: Uint32Array;
  keyNumbers: Float64Array;
  count: number;
  /** Every field's bytes printable ASCII and within its limit: the text rule accepts the batch. */
  plainText: boolean;
}

/** An items message whose fields are all ASCII, as spans and key numbers; undefined when a field is not ASCII or the shape is not plain. */
function textItems(bytes: Buffer): ItemSpans | undefined {
  const reader = itemsStart(bytes);
  if (!reader) return undefined;
  const out: ItemSpans = { text: bytes.toString("latin1"), spans: new Uint32Array(SPAN_WORDS * 1024), keyNumbers: new Float64Array(1024), count: 0, plainText: true };
  return readItemSpans(bytes, reader, out) ? out : undefined;
}

/**
 * The per-item loop of `textItems`, filling `out`; false when the bytes leave
 * the plain ASCII shape. In a function of its own with nothing after the loop.
 * Why: V8 optimises a long loop while it runs (on-stack replacement), and that
 * code was compiled before the code after the loop had ever run; it gave up
 * there (no type feedback yet), and kept doing so, message after message,
 * each time compiling the loop again (--trace-opt / --trace-deopt).
 */
function readItemSpans(bytes: Buffer, reader: BinaryReader, out: ItemSpans): boolean {
  const end = bytes.length;
  const text = out.text;
  let spans = out.spans;
  let keyNumbers = out.keyNumbers;
  let count = out.count;
  while (reader.pos < end) {
    if (bytes[reader.pos++] !== 0x0a) return false; // ManifestItems.items (1), length-delimited
    const itemLength = readUint32(bytes, reader);
    const stop = reader.pos + itemLength;
    if (stop > end) return false;
    if (count === keyNumbers.length) {
      const wider = new Uint32Array(spans.length * 2);
      wider.set(spans);
      out.spans = spans = wider;
      const more = new Float64Array(keyNumbers.length * 2);
      more.set(keyNumbers);
      out.keyNumbers = keyNumbers = more;
    }
    const base = count * SPAN_WORDS;
    while (reader.pos < stop) {
      const at = fieldAt(bytes, reader, stop);
      if (!at) return false;
      if (at.end - reader.pos > ITEM_LIMITS[at.field]!) out.plainText = false;
      // The framing's varints may hold any byte; a field's text must be ASCII to be cut from the latin1 text.
      // Printable ASCII (nearly every byte) passes the first test; a control byte leaves the batch to the text check.
      for (let k = reader.pos; k < at.end; k++) {
        const b = bytes[k]!;
        if (b < 0x20 || b >= 0x7f) {
          if (b >= 0x80) return false;
          out.plainText = false;
        }
      }
      // A string field given twice: the last one wins, as in fromBinary.
      spans[base + 2 * (at.field - 1)] = reader.pos;
      spans[base + 2 * (at.field - 1) + 1] = at.end;
      reader.pos = at.end;
    }
    keyNumbers[count] = plainDeviceKey(text, spans[base]!, spans[base + 1]!);
    out.count = ++count;
  }
  return true;
}

/** An items message with a field that is not ASCII, its items made as objects; undefined when the shape is not plain or a field is not UTF-8. */
function objectItems(bytes: Buffer): ScreenRequest | undefined {
  const reader = itemsStart(bytes);
  if (!reader) return undefined;
  const end = bytes.length;
  const text = bytes.toString("latin1");
  const items: ManifestItem[] = [];
  while (reader.pos < end) {
    if (bytes[reader.pos++] !== 0x0a) return undefined; // ManifestItems.items (1), length-delimited
    const itemLength = readUint32(bytes, reader);
    const stop = reader.pos + itemLength;
    if (stop > end) return undefined;
    let deviceId = "";
    let declaredMake = "";
    let declaredModel = "";
    let lineReference = "";
    while (reader.pos < stop) {
      const at = fieldAt(bytes, reader, stop);
      if (!at) return undefined;
      const value = stringAt(bytes, text, reader.pos, at.end);
      if (value === undefined) return undefined;
      reader.pos = at.end;
      // A string field given twice: the last one wins, as in fromBinary.
      if (at.field === 1) deviceId = value;
      else if (at.field === 2) declaredMake = value;
      else if (at.field === 3) declaredModel = value;
      else lineReference = value;
    }
    items.push({ $typeName: "imeifed.v1.ManifestItem", deviceId, declaredMake, declaredModel, lineReference });
  }
  return itemsRequest(items);
}

/** The string of bytes [start, end): cut from `text` when ASCII, else strict UTF-8; undefined for invalid UTF-8 (fromBinary words that error). */
function stringAt(bytes: Uint8Array, text: string, start: number, end: number): string | undefined {
  for (let i = start; i < end; i++) {
    if (bytes[i]! >= 0x80) {
      try {
        return utf8.decode(bytes.subarray(start, end));
      } catch {
        return undefined;
      }
    }
  }
  return text.substring(start, end);
}
