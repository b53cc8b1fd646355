/**
 * A hand-written decoder for ScreenRequest, the message a screening gateway
 * reads most: a million-item manifest arrives as a thousand of them, each
 * carrying a thousand ManifestItems.
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
 * an unknown field, a long varint, a truncated message, invalid UTF-8) goes
 * to `fromBinary`, so the result, errors included, equals what `fromBinary`
 * returns (tests compare the two over generated messages).
 *
 * The contract's text rule (contract/) applies to every item as to any
 * request. A batch read by position whose bytes are all printable ASCII, each
 * field within its limit (nearly every manifest), is marked text-checked as
 * it is read (its bytes are looked at once, for ASCII and for controls
 * alike), so the general check makes no item objects; any other batch is
 * left to the general check, which makes them and words the refusal.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { ManifestItemSchema, ScreenRequestSchema, type ManifestItem, type ManifestItems, type ScreenRequest } from "../../gen/imeifed/v1/federation_pb.js";
import { markTextChecked, textLimitOf } from "../../contract/index.js";
import { plainDeviceKey } from "../../device/index.js";
import { NOT_PLAIN, readSmallVarint } from "../../rpc/wire.js";
import { ManifestTextBatch, SPAN_WORDS } from "./manifest-batch.js";

/** protobuf-es's decoding of a proto3 string: strict UTF-8, a leading U+FEFF kept as text. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The `items` of a decoded ASCII message: a ManifestItems whose item objects
 * are made only if someone reads `items`; screening reads `batch`.
 */
export class DecodedManifestItems implements ManifestItems {
  readonly $typeName = "imeifed.v1.ManifestItems";
  #items: ManifestItem[] | undefined;

  constructor(readonly batch: ManifestTextBatch) {}

  get items(): ManifestItem[] {
    return (this.#items ??= this.batch.items());
  }
}

/** Decodes a ScreenRequest; equal to `fromBinary(ScreenRequestSchema, bytes)` (for an items message, once its `items` are read). */
export function decodeScreenRequest(bytes: Buffer): ScreenRequest {
  try {
    try {
      return textItemsMessage(bytes);
    } catch (error) {
      if (error !== NOT_ASCII) throw error;
      return itemsMessage(bytes);
    }
  } catch (error) {
    if (error !== NOT_PLAIN) throw error;
    return fromBinary(ScreenRequestSchema, bytes);
  }
}

/** Thrown by `textItemsMessage` at a field that is not ASCII: the message's items are made as objects instead. */
const NOT_ASCII = Symbol("not ascii");

/** The contract's text limit of an item's fields, by field number (1-4). */
const ITEM_LIMITS = [0, ...[ManifestItemSchema.field.deviceId!, ManifestItemSchema.field.declaredMake!, ManifestItemSchema.field.declaredModel!, ManifestItemSchema.field.lineReference!].map(textLimitOf)];

/** Where a decoder is in the message; `fieldEnd`: the end of the field `fieldAt` read last. */
interface Cursor {
  pos: number;
  fieldEnd: number;
}

/** Reads the header of a ScreenRequest that holds exactly one `items` field (tag 0x12) spanning the message; returns a cursor at its items. */
function itemsStart(bytes: Buffer): Cursor {
  const end = bytes.length;
  if (end === 0 || bytes[0] !== 0x12) throw NOT_PLAIN;
  const at = { pos: 1, fieldEnd: 0 };
  const length = readSmallVarint(bytes, at, end);
  if (at.pos + length !== end) throw NOT_PLAIN; // a second field (or too few bytes): fromBinary decides
  return at;
}

/** Reads one field header inside an item ending at `stop`; returns its number (1-4). Its value runs from `at.pos` to `at.fieldEnd`. */
function fieldAt(bytes: Buffer, at: Cursor, stop: number): number {
  const tag = bytes[at.pos++]!;
  if (tag !== 0x0a && tag !== 0x12 && tag !== 0x1a && tag !== 0x22) throw NOT_PLAIN; // fields 1-4, length-delimited
  const n = readSmallVarint(bytes, at, stop);
  at.fieldEnd = at.pos + n;
  if (at.fieldEnd > stop) throw NOT_PLAIN;
  return tag >> 3;
}

/** An items message whose fields are all ASCII, as a ManifestTextBatch: spans and key numbers, no object per item. */
function textItemsMessage(bytes: Buffer): ScreenRequest {
  const end = bytes.length;
  const at = itemsStart(bytes);
  const text = bytes.toString("latin1", 0, end);
  const read: ItemSpans = { spans: new Uint32Array(SPAN_WORDS * 1024), keyNumbers: new Float64Array(1024), count: 0, plainText: true };
  readItemSpans(bytes, text, at, end, read);
  const items = new DecodedManifestItems(new ManifestTextBatch(text, read.spans, read.keyNumbers, read.count));
  return { $typeName: "imeifed.v1.ScreenRequest", message: { case: "items", value: read.plainText ? markTextChecked(items) : items } };
}

/** The spans and key numbers of a batch's items (what ManifestTextBatch reads). */
interface ItemSpans {
  spans: Uint32Array;
  keyNumbers: Float64Array;
  count: number;
  /** Every field's bytes printable ASCII and within its limit: the text rule accepts the batch. */
  plainText: boolean;
}

/**
 * The per-item loop of `textItemsMessage`, filling `out`, in a function of
 * its own with nothing after the loop. Why: V8 optimises a long loop while it
 * runs (on-stack replacement), and that code was compiled before the code
 * after the loop had ever run; it gave up there (no type feedback yet), and
 * kept doing so, message after message, each time compiling the loop again:
 * ~60-140 compiles in a million-item screening, ~0.6 CPU-seconds of the
 * gateway's compiler threads (--trace-opt / --trace-deopt).
 */
function readItemSpans(bytes: Buffer, text: string, at: Cursor, end: number, out: ItemSpans): void {
  let spans = out.spans;
  let keyNumbers = out.keyNumbers;
  let count = out.count;
  while (at.pos < end) {
    if (bytes[at.pos++] !== 0x0a) throw NOT_PLAIN; // ManifestItems.items (1), length-delimited
    const itemLength = readSmallVarint(bytes, at, end);
    const stop = at.pos + itemLength;
    if (stop > end) throw NOT_PLAIN;
    if (count === keyNumbers.length) {
      const wider = new Uint32Array(spans.length * 2);
      wider.set(spans);
      out.spans = spans = wider;
      const more = new Float64Array(keyNumbers.length * 2);
      more.set(keyNumbers);
      out.keyNumbers = keyNumbers = more;
    }
    const base = count * SPAN_WORDS;
    while (at.pos < stop) {
      const field = fieldAt(bytes, at, stop);
      if (at.fieldEnd - at.pos > ITEM_LIMITS[field]!) out.plainText = false;
      // The framing's varints may hold any byte; a field's text must be ASCII to be cut from the latin1 text.
      // Printable ASCII (nearly every byte) passes the first test; a control byte leaves the batch to the text check.
      for (let k = at.pos; k < at.fieldEnd; k++) {
        const b = bytes[k]!;
        if (b < 0x20 || b >= 0x7f) {
          if (b >= 0x80) throw NOT_ASCII;
          out.plainText = false;
        }
      }
      // A string field given twice: the last one wins, as in fromBinary.
      spans[base + 2 * (field - 1)] = at.pos;
      spans[base + 2 * (field - 1) + 1] = at.fieldEnd;
      at.pos = at.fieldEnd;
    }
    keyNumbers[count] = plainDeviceKey(text, spans[base]!, spans[base + 1]!);
    out.count = ++count;
  }
}

function itemsMessage(bytes: Buffer): ScreenRequest {
  const end = bytes.length;
  const at = itemsStart(bytes);
  const text = bytes.toString("latin1", 0, end);
  const items: ManifestItem[] = [];
  while (at.pos < end) {
    if (bytes[at.pos++] !== 0x0a) throw NOT_PLAIN; // ManifestItems.items (1), length-delimited
    const itemLength = readSmallVarint(bytes, at, end);
    const stop = at.pos + itemLength;
    if (stop > end) throw NOT_PLAIN;
    let deviceId = "";
    let declaredMake = "";
    let declaredModel = "";
    let lineReference = "";
    while (at.pos < stop) {
      const field = fieldAt(bytes, at, stop);
      const value = stringAt(bytes, text, at.pos, at.fieldEnd);
      at.pos = at.fieldEnd;
      // A string field given twice: the last one wins, as in fromBinary.
      if (field === 1) deviceId = value;
      else if (field === 2) declaredMake = value;
      else if (field === 3) declaredModel = value;
      else lineReference = value;
    }
    items.push({ $typeName: "imeifed.v1.ManifestItem", deviceId, declaredMake, declaredModel, lineReference });
  }
  return { $typeName: "imeifed.v1.ScreenRequest", message: { case: "items", value: { $typeName: "imeifed.v1.ManifestItems", items } } };
}

/** The string of bytes [start, end): cut from `text` when ASCII, else strict UTF-8 (invalid UTF-8 leaves the message to fromBinary's error). */
function stringAt(bytes: Uint8Array, text: string, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if (bytes[i]! >= 0x80) {
      try {
        return utf8.decode(bytes.subarray(start, end));
      } catch {
        throw NOT_PLAIN;
      }
    }
  }
  return text.substring(start, end);
}
