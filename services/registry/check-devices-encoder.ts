/**
 * A hand-written encoder for CheckDevicesResponse, the message a registry
 * writes most: a screened manifest asks every registry about every item, and
 * nearly every answer is a plain "PERMITTED, keep it this long".
 *
 * Why: protobuf-es's `create` + `toBinary` cost a schema walk and several
 * objects per DeviceCheck, the largest single cost of a registry's CheckDevices. This
 * encoder writes the plain shape (device key, status, cache_max_age) directly,
 * encodes each distinct cache_max_age object once per response, and hands any
 * check it does not write itself to `toBinary` (a check with a finding, or a
 * value outside the plain shape), embedding its bytes. A sparse answer's
 * listed_indexes (packed) and unlisted_cache_max_age are written after the
 * checks, as toBinary orders them. The output equals
 * `toBinary(CheckDevicesResponseSchema, create(CheckDevicesResponseSchema, value))`
 * byte for byte (tests compare the two over generated responses).
 */
import { create, isMessage, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { CheckDevicesResponseSchema, DeviceCheckSchema } from "../../gen/imeifed/v1/registry_pb.js";
import { varintSize, writeVarint } from "../../rpc/wire.js";

type ResponseInit = MessageInitShape<typeof CheckDevicesResponseSchema>;
type CheckInit = MessageInitShape<typeof DeviceCheckSchema>;

/** Varints up to 2^28 are written here; larger or negative values go through toBinary. */
const SMALL = 1 << 28;
const SMALL_BIG = BigInt(SMALL);

/** The bytes of a Duration field (`tag`: DeviceCheck.cache_max_age's 0x22 or the response's unlisted_cache_max_age 0x1a) for a plain Duration init, or undefined when toBinary must write it. */
function durationField(duration: object, tag = 0x22): Uint8Array | undefined {
  const { seconds, nanos, $unknown } = duration as { seconds?: unknown; nanos?: unknown; $unknown?: unknown };
  if ($unknown !== undefined) return undefined;
  if (seconds !== undefined && (typeof seconds !== "bigint" || seconds < 0n || seconds >= SMALL_BIG)) return undefined;
  if (nanos !== undefined && (typeof nanos !== "number" || !Number.isInteger(nanos) || nanos < 0 || nanos >= SMALL)) return undefined;
  const s = seconds === undefined ? 0 : Number(seconds);
  const n = nanos === undefined ? 0 : nanos;
  const inner = (s !== 0 ? 1 + varintSize(s) : 0) + (n !== 0 ? 1 + varintSize(n) : 0);
  const bytes = new Uint8Array(1 + varintSize(inner) + inner);
  let pos = writeVarint(bytes, 0, tag);
  pos = writeVarint(bytes, pos, inner);
  if (s !== 0) pos = writeVarint(bytes, writeVarint(bytes, pos, 0x08), s);
  if (n !== 0) writeVarint(bytes, writeVarint(bytes, pos, 0x10), n);
  return bytes;
}

/** Bytes that hold a plain check of `keyLength` characters besides its key: tags, lengths, status, up to a 16-byte Duration. */
const PLAIN_OVERHEAD = 1 + 4 + 1 + 4 + 1 + 4 + 16;

/** Encodes a CheckDevicesResponse (message or init); equal to `toBinary(create(...))`, several times cheaper for plain checks. */
export function encodeCheckDevicesResponse(value: unknown): Buffer {
  const response = value as ResponseInit & { $unknown?: unknown[] };
  if (response.$unknown !== undefined && response.$unknown.length > 0) {
    return Buffer.from(toBinary(CheckDevicesResponseSchema, isMessage(value, CheckDevicesResponseSchema) ? value : create(CheckDevicesResponseSchema, response)));
  }
  const checks = (response.checks ?? []) as readonly (CheckInit & { $unknown?: unknown[] })[];
  const count = checks.length;
  // One pass into a buffer sized for 14-digit keys, grown when a check needs more.
  let out = Buffer.allocUnsafe(count * 30 + 64);
  let pos = 0;
  const ensure = (needed: number) => {
    if (pos + needed <= out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, pos + needed));
    out.copy(bigger, 0, 0, pos);
    out = bigger;
  };
  let lastDuration: object | undefined;
  let lastDurationBytes: Uint8Array | undefined;
  for (let i = 0; i < count; i++) {
    const check = checks[i]!;
    const { deviceKey, status, cacheMaxAge } = check;
    plain: if (check.finding === undefined && (check.$unknown === undefined || check.$unknown.length === 0)) {
      let durationBytes: Uint8Array | undefined;
      if (cacheMaxAge !== undefined) {
        if (cacheMaxAge !== lastDuration) {
          lastDuration = cacheMaxAge;
          lastDurationBytes = durationField(cacheMaxAge);
        }
        durationBytes = lastDurationBytes;
        if (durationBytes === undefined) break plain;
      }
      if (deviceKey !== undefined && typeof deviceKey !== "string") break plain;
      const statusValue = status === undefined ? 0 : (status as number);
      if (!(statusValue >= 0 && statusValue < SMALL && Number.isInteger(statusValue))) break plain;
      // The key's length in bytes, if it is ASCII (checked while it is written).
      const keyLength = deviceKey === undefined ? 0 : deviceKey.length;
      const size = (keyLength > 0 ? 1 + varintSize(keyLength) + keyLength : 0) + (statusValue !== 0 ? 1 + varintSize(statusValue) : 0) + (durationBytes?.length ?? 0);
      ensure(keyLength + PLAIN_OVERHEAD);
      const start = pos;
      out[pos++] = 0x0a; // field 1 (checks), length-delimited
      pos = writeVarint(out, pos, size);
      if (keyLength > 0) {
        out[pos++] = 0x0a;
        pos = writeVarint(out, pos, keyLength);
        for (let c = 0; c < keyLength; c++) {
          const code = deviceKey!.charCodeAt(c);
          if (code >= 0x80) {
            pos = start; // not ASCII: toBinary writes its UTF-8
            break plain;
          }
          out[pos++] = code;
        }
      }
      if (statusValue !== 0) {
        out[pos++] = 0x10;
        pos = writeVarint(out, pos, statusValue);
      }
      // A loop, not `set`: a Duration is a handful of bytes.
      if (durationBytes !== undefined) for (let b = 0; b < durationBytes.length; b++) out[pos++] = durationBytes[b]!;
      continue;
    }
    const bytes = toBinary(DeviceCheckSchema, isMessage(check, DeviceCheckSchema) ? check : create(DeviceCheckSchema, check));
    ensure(1 + 5 + bytes.length);
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, bytes.length);
    out.set(bytes, pos);
    pos += bytes.length;
  }
  const tail = sparseTail(response);
  if (tail === undefined) return Buffer.from(toBinary(CheckDevicesResponseSchema, isMessage(value, CheckDevicesResponseSchema) ? value : create(CheckDevicesResponseSchema, response)));
  if (tail.length === 0) return out.subarray(0, pos);
  ensure(tail.length);
  out.set(tail, pos);
  return out.subarray(0, pos + tail.length);
}

/** The bytes of a sparse answer's fields 2 (listed_indexes, packed) and 3 (unlisted_cache_max_age); empty for a full answer; undefined when a value is outside the plain shape. */
function sparseTail(response: ResponseInit): Uint8Array | undefined {
  const indexes = response.listedIndexes ?? [];
  const duration = response.unlistedCacheMaxAge;
  let durationBytes: Uint8Array | undefined;
  if (duration !== undefined) {
    durationBytes = durationField(duration, 0x1a);
    if (durationBytes === undefined) return undefined;
  }
  let packed = 0;
  for (let i = 0; i < indexes.length; i++) {
    const index = indexes[i];
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= SMALL) return undefined;
    packed += varintSize(index);
  }
  const size = (packed > 0 ? 1 + varintSize(packed) + packed : 0) + (durationBytes?.length ?? 0);
  const tail = new Uint8Array(size);
  let pos = 0;
  if (packed > 0) {
    pos = writeVarint(tail, writeVarint(tail, pos, 0x12), packed); // field 2, packed
    for (let i = 0; i < indexes.length; i++) pos = writeVarint(tail, pos, indexes[i]!);
  }
  if (durationBytes !== undefined) tail.set(durationBytes, pos);
  return tail;
}
