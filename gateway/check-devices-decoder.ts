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
import type { Duration } from "@bufbuild/protobuf/wkt";
import type { DeviceStatus } from "../gen/imeifed/v1/device_pb.js";
import { CheckDevicesResponseSchema, DeviceCheckSchema, type CheckDevicesResponse, type DeviceCheck } from "../gen/imeifed/v1/registry_pb.js";
import { NOT_PLAIN, readSmallVarint } from "../rpc/wire.js";

/**
 * The whole response as one latin1 string, to cut device keys from: a cut of
 * 13 characters or more is a V8 slice sharing the response's characters, so a
 * key costs no copy and no call into Buffer (that call was half the decoder's
 * time: ~70 ns a check against ~25 ns). The keys keep the response's text
 * alive as long as its checks live; the gateway keeps no check's key.
 */
function latin1Of(bytes: Uint8Array): string {
  if (Buffer.isBuffer(bytes)) return bytes.toString("latin1");
  let text = "";
  for (let i = 0; i < bytes.length; i += 8_192) text += String.fromCharCode(...bytes.subarray(i, i + 8_192));
  return text;
}

/** An ASCII string (device keys are digits) cut from `text` (the bytes as latin1); anything else is left to fromBinary's UTF-8 decoding. */
function readAscii(bytes: Uint8Array, text: string, start: number, end: number): string {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) throw NOT_PLAIN;
  return text.substring(start, end);
}

function fastDecode(bytes: Uint8Array): CheckDevicesResponse {
  const checks: DeviceCheck[] = [];
  const text = latin1Of(bytes);
  const at = { pos: 0 };
  const end = bytes.length;
  let shared: Duration | undefined;
  const listedIndexes: number[] = [];
  let unlistedCacheMaxAge: Duration | undefined;
  while (at.pos < end) {
    const field = bytes[at.pos++];
    if (field === 0x12) {
      // listed_indexes (2), packed: a sparse answer's few positions.
      const length = readSmallVarint(bytes, at, end);
      const stop = at.pos + length;
      if (stop > end) throw NOT_PLAIN;
      while (at.pos < stop) listedIndexes.push(readSmallVarint(bytes, at, stop));
      continue;
    }
    if (field === 0x1a) {
      // unlisted_cache_max_age (3): the sparse answer's marker; a second one is merged by fromBinary.
      if (unlistedCacheMaxAge !== undefined) throw NOT_PLAIN;
      unlistedCacheMaxAge = readDuration(bytes, at, end);
      continue;
    }
    if (field !== 0x0a) throw NOT_PLAIN; // field 1 (checks), length-delimited
    const length = readSmallVarint(bytes, at, end);
    const start = at.pos;
    const stop = start + length;
    if (stop > end) throw NOT_PLAIN;
    let deviceKey = "";
    let status = 0;
    let cacheMaxAge: Duration | undefined;
    let seen = 0;
    let full = false;
    while (at.pos < stop) {
      const tag = bytes[at.pos++]!;
      const field = tag >> 3;
      if (field < 1 || field > 4 || seen & (1 << field)) throw NOT_PLAIN; // unknown or repeated: fromBinary merges those
      seen |= 1 << field;
      if (tag === 0x0a) {
        const n = readSmallVarint(bytes, at, stop);
        if (at.pos + n > stop) throw NOT_PLAIN;
        deviceKey = readAscii(bytes, text, at.pos, at.pos + n);
        at.pos += n;
      } else if (tag === 0x10) {
        status = readSmallVarint(bytes, at, stop);
      } else if (tag === 0x1a) {
        const n = readSmallVarint(bytes, at, stop);
        at.pos += n;
        full = true; // a finding: this check goes through the full decoder
      } else if (tag === 0x22) {
        cacheMaxAge = shared = readDuration(bytes, at, stop, shared);
      } else {
        throw NOT_PLAIN;
      }
    }
    if (at.pos !== stop) throw NOT_PLAIN;
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

/** A length-delimited Duration of small non-negative varints at `at.pos`; `shared` is returned instead of a new object when equal (messages here are read, never mutated). */
function readDuration(bytes: Uint8Array, at: { pos: number }, end: number, shared?: Duration): Duration {
  const n = readSmallVarint(bytes, at, end);
  const durationEnd = at.pos + n;
  if (durationEnd > end) throw NOT_PLAIN;
  let seconds = 0;
  let nanos = 0;
  let durationSeen = 0;
  while (at.pos < durationEnd) {
    const t = bytes[at.pos++]!;
    if ((t !== 0x08 && t !== 0x10) || durationSeen & t) throw NOT_PLAIN;
    durationSeen |= t;
    if (t === 0x08) seconds = readSmallVarint(bytes, at, durationEnd);
    else nanos = readSmallVarint(bytes, at, durationEnd);
  }
  return shared && shared.nanos === nanos && shared.seconds === BigInt(seconds) ? shared : { $typeName: "google.protobuf.Duration", seconds: BigInt(seconds), nanos };
}

/** Decodes a CheckDevicesResponse; equal to `fromBinary(CheckDevicesResponseSchema, bytes)`, several times cheaper for plain checks. */
export function decodeCheckDevicesResponse(bytes: Uint8Array): CheckDevicesResponse {
  try {
    return fastDecode(bytes);
  } catch (error) {
    if (error !== NOT_PLAIN) throw error;
    return fromBinary(CheckDevicesResponseSchema, bytes);
  }
}
