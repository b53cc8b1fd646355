/**
 * A hand-written decoder for ScreenRequest, the message a screening gateway
 * reads most: a million-item manifest arrives as a thousand of them, each
 * carrying a thousand ManifestItems.
 *
 * Why: protobuf-es's general `fromBinary` spent ~0.4 µs an item (schema walk,
 * a TextDecoder call per string, a reader object) and its garbage was part of
 * the gateway's young-generation collections. This decoder turns an items
 * message into one latin1 string with one native call and cuts each ASCII
 * field out of it (a V8 slice: no copy); a field that is not ASCII is decoded
 * as protobuf-es decodes it (strict UTF-8, BOM kept). Anything else (the
 * shipment message, an unknown field, a long varint, a truncated message,
 * invalid UTF-8) goes to `fromBinary`, so the result, errors included,
 * equals what `fromBinary` returns (tests compare the two over generated
 * messages).
 */
import { isAscii } from "node:buffer";
import { fromBinary } from "@bufbuild/protobuf";
import { ScreenRequestSchema, type ManifestItem, type ScreenRequest } from "../../gen/imeifed/v1/federation_pb.js";
import { NOT_PLAIN, readSmallVarint } from "../../rpc/wire.js";

/** protobuf-es's decoding of a proto3 string: strict UTF-8, a leading U+FEFF kept as text. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes a ScreenRequest; equal to `fromBinary(ScreenRequestSchema, bytes)`. */
export function decodeScreenRequest(bytes: Buffer): ScreenRequest {
  try {
    return itemsMessage(bytes);
  } catch (error) {
    if (error !== NOT_PLAIN) throw error;
    return fromBinary(ScreenRequestSchema, bytes);
  }
}

/** A ScreenRequest holding exactly one `items` field (tag 0x12) that spans the message. */
function itemsMessage(bytes: Buffer): ScreenRequest {
  const end = bytes.length;
  if (end === 0 || bytes[0] !== 0x12) throw NOT_PLAIN;
  const at = { pos: 1 };
  const length = readSmallVarint(bytes, at, end);
  if (at.pos + length !== end) throw NOT_PLAIN; // a second field (or too few bytes): fromBinary decides
  const text = bytes.toString("latin1", 0, end);
  // One native scan: when every byte is ASCII (nearly every manifest), no field needs its own check.
  const ascii = isAscii(bytes);
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
      const tag = bytes[at.pos++]!;
      if (tag !== 0x0a && tag !== 0x12 && tag !== 0x1a && tag !== 0x22) throw NOT_PLAIN; // fields 1-4, length-delimited
      const n = readSmallVarint(bytes, at, stop);
      const fieldEnd = at.pos + n;
      if (fieldEnd > stop) throw NOT_PLAIN;
      const value = ascii ? text.substring(at.pos, fieldEnd) : stringAt(bytes, text, at.pos, fieldEnd);
      at.pos = fieldEnd;
      // A string field given twice: the last one wins, as in fromBinary.
      if (tag === 0x0a) deviceId = value;
      else if (tag === 0x12) declaredMake = value;
      else if (tag === 0x1a) declaredModel = value;
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
