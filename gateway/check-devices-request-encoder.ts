/**
 * A hand-written encoder for CheckDevicesRequest, the message the gateway
 * writes most: a screened manifest sends every item to every registry, up to
 * a batch limit of IMEIs a call.
 *
 * Why: protobuf-es's `create` + `toBinary` walk the schema and UTF-8-encode
 * each IMEI through a TextEncoder call; IMEIs are ASCII digits, written here
 * a character at a byte into one buffer sized up front. A non-ASCII string
 * is written as UTF-8 (as toBinary would), and a value outside the plain
 * shape (unknown fields) goes to toBinary, so the bytes equal
 * `toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, value))`
 * (tests compare the two over generated requests).
 */
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { CheckDevicesRequestSchema } from "../gen/imeifed/v1/registry_pb.js";
import { varintSize, writeVarint } from "../rpc/wire.js";

type RequestInit = MessageInitShape<typeof CheckDevicesRequestSchema>;

/** Tags of CheckDevicesRequest's fields: imeis (1) and purpose (2) length-delimited, listed_only (3) a varint. */
const IMEIS_TAG = 0x0a;
const PURPOSE_TAG = 0x12;
const LISTED_ONLY_TAG = 0x18;

/**
 * Bulk requests already encoded, by their IMEI list: a screened chunk goes to
 * every registry as the same request (the same key list, purpose and flag),
 * so it is encoded once rather than once per registry. Keyed by the list
 * itself, which the gateway never changes once it has asked with it; an entry
 * goes when its list is collected.
 */
const encodedBulk = new WeakMap<readonly string[], { purpose: string; listedOnly: boolean; bytes: Buffer }>();
/** Lists shorter than this (a lookup's batch) are not worth remembering. */
const BULK_SIZE = 256;

/** Encodes a CheckDevicesRequest (message or init); equal to `toBinary(create(CheckDevicesRequestSchema, value))`. */
export function encodeCheckDevicesRequest(value: unknown): Buffer {
  const request = value as RequestInit & { $unknown?: unknown[] };
  if (request.$unknown !== undefined && request.$unknown.length > 0) return Buffer.from(toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, request)));
  const imeis = request.imeis ?? [];
  const purpose = request.purpose ?? "";
  const listedOnly = request.listedOnly ?? false;
  const bulk = imeis.length >= BULK_SIZE;
  const known = bulk ? encodedBulk.get(imeis) : undefined;
  if (known && known.purpose === purpose && known.listedOnly === listedOnly) return known.bytes;
  const bytes = checkDevicesRequestBytes(imeis, purpose, listedOnly);
  if (!bytes) return Buffer.from(toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, request)));
  if (bulk) encodedBulk.set(imeis, { purpose, listedOnly, bytes });
  return bytes;
}

/**
 * The bytes of a CheckDevicesRequest with these fields, for a call or inside
 * a CheckDevicesStream envelope; undefined when a value is not of its type
 * (the caller lets protobuf-es report it).
 */
export function checkDevicesRequestBytes(imeis: readonly string[], purpose: string, listedOnly: boolean): Buffer | undefined {
  if (typeof purpose !== "string" || typeof listedOnly !== "boolean") return undefined;
  return sameLengthBytes(imeis, purpose, listedOnly) ?? anyBytes(imeis, purpose, listedOnly);
}

/**
 * The common case, a batch of device keys: every IMEI a string of one length
 * under 128. Then each one's field is the two bytes `0x0a, length` and its
 * characters, so the repeated field is one native `join` of the IMEIs with
 * that header as separator, written as latin1 in one call: ~25 ns an IMEI
 * (nearly all of it the join) against ~90 for a loop over characters, and
 * ~75 for toBinary. Undefined when the batch is not in
 * that shape or a character is not ASCII (latin1 would not be its UTF-8).
 */
function sameLengthBytes(imeis: readonly string[], purpose: string, listedOnly: boolean): Buffer | undefined {
  const count = imeis.length;
  if (count === 0) return undefined;
  const first = imeis[0];
  if (typeof first !== "string") return undefined;
  const length = first.length;
  if (length >= 0x80) return undefined;
  for (let i = 1; i < count; i++) {
    const imei = imeis[i];
    if (typeof imei !== "string" || imei.length !== length) return undefined;
  }
  const header = String.fromCharCode(IMEIS_TAG, length);
  // The first field's header is written on its own: prepending it to the joined text would make a
  // cons string that measuring and writing flatten, a copy of the whole list (~160 KB a chunk).
  const rest = imeis.join(header);
  const fieldsBytes = count * (2 + length);
  // Only ASCII text is as long in UTF-8 as in characters.
  if (Buffer.byteLength(rest, "utf8") !== fieldsBytes - 2) return undefined;
  const purposeBytes = Buffer.byteLength(purpose, "utf8");
  const out = Buffer.allocUnsafe(fieldsBytes + (purposeBytes > 0 ? 1 + varintSize(purposeBytes) + purposeBytes : 0) + (listedOnly ? 2 : 0));
  out[0] = IMEIS_TAG;
  out[1] = length;
  const pos = 2 + out.write(rest, 2, "latin1");
  return tail(out, pos, purpose, purposeBytes, listedOnly);
}

/** Any batch: each IMEI measured and written on its own. */
function anyBytes(imeis: readonly string[], purpose: string, listedOnly: boolean): Buffer | undefined {
  // Sized as if every IMEI were ASCII; a string that is not is measured as UTF-8.
  let size = 0;
  let ascii = true;
  for (let i = 0; i < imeis.length; i++) {
    const imei = imeis[i];
    if (typeof imei !== "string") return undefined;
    const length = asciiLength(imei);
    if (length < 0) ascii = false;
    const bytes = length < 0 ? Buffer.byteLength(imei, "utf8") : length;
    size += 1 + varintSize(bytes) + bytes;
  }
  const purposeBytes = Buffer.byteLength(purpose, "utf8");
  if (purposeBytes > 0) size += 1 + varintSize(purposeBytes) + purposeBytes;
  if (listedOnly) size += 2;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (let i = 0; i < imeis.length; i++) {
    const imei = imeis[i]!;
    out[pos++] = IMEIS_TAG;
    if (ascii) {
      const length = imei.length;
      pos = writeVarint(out, pos, length);
      for (let c = 0; c < length; c++) out[pos++] = imei.charCodeAt(c);
    } else {
      pos = writeVarint(out, pos, Buffer.byteLength(imei, "utf8"));
      pos += out.write(imei, pos, "utf8");
    }
  }
  return tail(out, pos, purpose, purposeBytes, listedOnly);
}

/** Writes the purpose and listed_only fields after the IMEIs, at `pos`. */
function tail(out: Buffer, pos: number, purpose: string, purposeBytes: number, listedOnly: boolean): Buffer {
  if (purposeBytes > 0) {
    out[pos++] = PURPOSE_TAG;
    pos = writeVarint(out, pos, purposeBytes);
    pos += out.write(purpose, pos, "utf8");
  }
  if (listedOnly) {
    out[pos++] = LISTED_ONLY_TAG;
    out[pos++] = 1;
  }
  return out;
}

/** The string's length when every character is ASCII (one UTF-8 byte each), else -1. */
function asciiLength(text: string): number {
  const length = text.length;
  for (let c = 0; c < length; c++) if (text.charCodeAt(c) >= 0x80) return -1;
  return length;
}
