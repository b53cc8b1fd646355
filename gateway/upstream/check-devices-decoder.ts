/**
 * A hand-written decoder for CheckDevicesResponse, the message the gateway
 * reads most: a screened manifest brings five of its DeviceChecks per item.
 *
 * Why: protobuf-es's general `fromBinary` spends a schema walk and several
 * objects (the check, its Duration, a BigInt) per DeviceCheck, which made decoding the
 * largest single cost of a screening gateway, and its garbage the next one.
 * This decoder reads the common shape (device key, status, cache_max_age)
 * directly, gives every check of one response that carries the same
 * cache_max_age one shared Duration (messages here are read, never mutated),
 * and hands anything else to `fromBinary`: a check with a finding (rare, and
 * worth the full decoder), and the whole response when it holds a field it
 * does not know or a value outside the plain shape. A sparse answer (see
 * CheckDevicesRequest.listed_only) is read the same way: its few listed
 * checks, their positions, and the one Duration of every other device. The result equals what
 * `fromBinary` returns (tests compare the two over generated messages).
 */
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import type { Duration } from "@bufbuild/protobuf/wkt";
import type { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { CheckDevicesResponseSchema, DeviceCheckSchema, type CheckDevicesResponse, type DeviceCheck } from "../../gen/imeifed/v1/registry_pb.js";
import { readUint32 } from "../../rpc/wire.js";

/**
 * The whole response as one latin1 string, to cut device keys from: a cut of
 * 13 characters or more is a V8 slice sharing the response's characters, so a
 * key costs no copy and no call into Buffer (that call was half the decoder's
 * time). The keys keep the response's text alive as long as its checks live;
 * the gateway keeps no check's key.
 */
function latin1Of(bytes: Uint8Array): string {
  if (Buffer.isBuffer(bytes)) return bytes.toString("latin1");
  let text = "";
  for (let i = 0; i < bytes.length; i += 8_192) text += String.fromCharCode(...bytes.subarray(i, i + 8_192));
  return text;
}

/** Whether bytes `start` to `end` are ASCII (device keys are digits), so their latin1 text is their UTF-8 text. */
function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/**
 * The response when every field is in the plain shape; undefined when
 * fromBinary must decide (an unknown or repeated field, a key that is not
 * ASCII, a length past the end). Tags are single bytes in the plain shape and
 * are read as such; varints are read by protobuf-es's BinaryReader.
 */
function plainDecode(bytes: Uint8Array): CheckDevicesResponse | undefined {
  const reader = new BinaryReader(bytes);
  const checks: DeviceCheck[] = [];
  const text = latin1Of(bytes);
  const end = bytes.length;
  let shared: Duration | undefined;
  const listedIndexes: number[] = [];
  let unlistedCacheMaxAge: Duration | undefined;
  while (reader.pos < end) {
    const field = bytes[reader.pos++];
    if (field === 0x12) {
      // listed_indexes (2), packed: a sparse answer's few positions.
      const stop = lengthEnd(bytes, reader, end);
      if (stop < 0) return undefined;
      while (reader.pos < stop) listedIndexes.push(readUint32(bytes, reader));
      if (reader.pos !== stop) return undefined;
      continue;
    }
    if (field === 0x1a) {
      // unlisted_cache_max_age (3): the sparse answer's marker; a second one is merged by fromBinary.
      if (unlistedCacheMaxAge !== undefined) return undefined;
      unlistedCacheMaxAge = readDuration(bytes, reader, end);
      if (unlistedCacheMaxAge === undefined) return undefined;
      continue;
    }
    if (field !== 0x0a) return undefined; // field 1 (checks), length-delimited
    const stop = lengthEnd(bytes, reader, end);
    if (stop < 0) return undefined;
    const start = reader.pos;
    let deviceKey = "";
    let status = 0;
    let cacheMaxAge: Duration | undefined;
    let seen = 0;
    let full = false;
    while (reader.pos < stop) {
      const tag = bytes[reader.pos++]!;
      const field = tag >> 3;
      if (field < 1 || field > 4 || seen & (1 << field)) return undefined; // unknown or repeated: fromBinary merges those
      seen |= 1 << field;
      if (tag === 0x0a) {
        const keyEnd = lengthEnd(bytes, reader, stop);
        if (keyEnd < 0 || !isAscii(bytes, reader.pos, keyEnd)) return undefined;
        deviceKey = text.substring(reader.pos, keyEnd);
        reader.pos = keyEnd;
      } else if (tag === 0x10) {
        // An enum: one byte for every known value; anything longer (a negative int32 takes ten) as protobuf-es reads it.
        status = bytes[reader.pos]! < 0x80 ? bytes[reader.pos++]! : reader.int32();
      } else if (tag === 0x1a) {
        const findingEnd = lengthEnd(bytes, reader, stop);
        if (findingEnd < 0) return undefined;
        reader.pos = findingEnd;
        full = true; // a finding: this check goes through the full decoder
      } else if (tag === 0x22) {
        cacheMaxAge = shared = readDuration(bytes, reader, stop, shared);
        if (cacheMaxAge === undefined) return undefined;
      } else {
        return undefined;
      }
    }
    if (reader.pos !== stop) return undefined;
    if (full) {
      checks.push(fromBinary(DeviceCheckSchema, bytes.subarray(start, stop)));
      continue;
    }
    const check: DeviceCheck = cacheMaxAge
      ? { $typeName: "imeifed.v1.DeviceCheck", deviceKey, status: status as DeviceStatus, cacheMaxAge }
      : ({ $typeName: "imeifed.v1.DeviceCheck", deviceKey, status: status as DeviceStatus } as DeviceCheck);
    checks.push(check);
  }
  const response: CheckDevicesResponse = { $typeName: "imeifed.v1.CheckDevicesResponse", checks, listedIndexes };
  if (unlistedCacheMaxAge !== undefined) response.unlistedCacheMaxAge = unlistedCacheMaxAge;
  return response;
}

/** Reads a length at the reader's position; the end of the bytes it announces, or -1 when that is past `limit`. */
function lengthEnd(bytes: Uint8Array, reader: BinaryReader, limit: number): number {
  const length = readUint32(bytes, reader);
  const stop = reader.pos + length;
  return stop > limit ? -1 : stop;
}

/**
 * A length-delimited Duration at the reader's position, of its two fields at
 * most once each; `shared` is returned instead of a new object when equal
 * (messages here are read, never mutated). Undefined for any other shape.
 */
function readDuration(bytes: Uint8Array, reader: BinaryReader, limit: number, shared?: Duration): Duration | undefined {
  const stop = lengthEnd(bytes, reader, limit);
  if (stop < 0) return undefined;
  let seconds = 0n;
  let nanos = 0;
  let seen = 0;
  while (reader.pos < stop) {
    const tag = bytes[reader.pos++]!;
    if ((tag !== 0x08 && tag !== 0x10) || seen & tag) return undefined;
    seen |= tag;
    if (tag === 0x08) seconds = BigInt(reader.int64());
    else nanos = reader.int32();
  }
  if (reader.pos !== stop) return undefined;
  return shared && shared.nanos === nanos && shared.seconds === seconds ? shared : { $typeName: "google.protobuf.Duration", seconds, nanos };
}

/**
 * Decodes a CheckDevicesResponse; equal to `fromBinary(CheckDevicesResponseSchema, bytes)`.
 * Bytes the plain reader refuses, or that end inside a varint (the reader
 * throws), are fromBinary's to decode or to refuse with its own error.
 */
export function decodeCheckDevicesResponse(bytes: Uint8Array): CheckDevicesResponse {
  let plain: CheckDevicesResponse | undefined;
  try {
    plain = plainDecode(bytes);
  } catch {
    plain = undefined;
  }
  return plain ?? fromBinary(CheckDevicesResponseSchema, bytes);
}
