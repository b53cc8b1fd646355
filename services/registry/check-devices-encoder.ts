/**
 * A hand-written encoder for CheckDevicesResponse, the message a registry
 * writes most: a screened manifest asks every registry about every item, and
 * nearly every answer is a plain "PERMITTED, keep it this long".
 *
 * Why: protobuf-es's `create` + `toBinary` cost ~0.6 µs and several objects
 * per DeviceCheck, the largest single cost of a registry's CheckDevices. This
 * encoder writes the plain shape (device key, status, cache_max_age) directly,
 * encodes each distinct cache_max_age object once per response, and hands any
 * check it does not write itself to `toBinary` (a check with a finding, or a
 * value outside the plain shape), embedding its bytes. The output equals
 * `toBinary(CheckDevicesResponseSchema, create(CheckDevicesResponseSchema, value))`
 * byte for byte (tests compare the two over generated responses).
 */
import { create, isMessage, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { CheckDevicesResponseSchema, DeviceCheckSchema } from "../../gen/imeifed/v1/registry_pb.js";

type ResponseInit = MessageInitShape<typeof CheckDevicesResponseSchema>;
type CheckInit = MessageInitShape<typeof DeviceCheckSchema>;

/** Varints up to 2^28 are written here; larger or negative values go through toBinary. */
const SMALL = 1 << 28;
const SMALL_BIG = BigInt(SMALL);

function varintLength(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : 4;
}

function writeVarint(out: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    out[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[pos++] = value;
  return pos;
}

/** The bytes of field 4 (cache_max_age) for a plain Duration init, or undefined when toBinary must write it. */
function durationField(duration: object): Uint8Array | undefined {
  const { seconds, nanos, $unknown } = duration as { seconds?: unknown; nanos?: unknown; $unknown?: unknown };
  if ($unknown !== undefined) return undefined;
  if (seconds !== undefined && (typeof seconds !== "bigint" || seconds < 0n || seconds >= SMALL_BIG)) return undefined;
  if (nanos !== undefined && (typeof nanos !== "number" || !Number.isInteger(nanos) || nanos < 0 || nanos >= SMALL)) return undefined;
  const s = seconds === undefined ? 0 : Number(seconds);
  const n = nanos === undefined ? 0 : nanos;
  const inner = (s !== 0 ? 1 + varintLength(s) : 0) + (n !== 0 ? 1 + varintLength(n) : 0);
  const bytes = new Uint8Array(1 + varintLength(inner) + inner);
  let pos = writeVarint(bytes, 0, 0x22); // field 4, length-delimited
  pos = writeVarint(bytes, pos, inner);
  if (s !== 0) pos = writeVarint(bytes, writeVarint(bytes, pos, 0x08), s);
  if (n !== 0) writeVarint(bytes, writeVarint(bytes, pos, 0x10), n);
  return bytes;
}

/** True when every character is ASCII, so the UTF-8 bytes are the char codes. */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** Encodes a CheckDevicesResponse (message or init); equal to `toBinary(create(...))`, several times cheaper for plain checks. */
export function encodeCheckDevicesResponse(value: unknown): Buffer {
  const response = value as ResponseInit & { $unknown?: unknown };
  if (response.$unknown !== undefined && (response.$unknown as unknown[]).length > 0) {
    return Buffer.from(toBinary(CheckDevicesResponseSchema, isMessage(value, CheckDevicesResponseSchema) ? value : create(CheckDevicesResponseSchema, response)));
  }
  const checks = (response.checks ?? []) as readonly CheckInit[];
  const count = checks.length;
  // Pass 1: the size of each check (-1: encoded by toBinary, kept in `full`).
  const sizes = new Int32Array(count);
  const durations = new Array<Uint8Array | undefined>(count);
  let full: Map<number, Uint8Array> | undefined;
  let lastDuration: object | undefined;
  let lastDurationBytes: Uint8Array | undefined;
  let total = 0;
  for (let i = 0; i < count; i++) {
    const check = checks[i]! as CheckInit & { $unknown?: unknown };
    const { deviceKey, status, cacheMaxAge } = check;
    let size = -1;
    if (check.finding === undefined && (check.$unknown === undefined || (check.$unknown as unknown[]).length === 0)) {
      let durationBytes: Uint8Array | undefined;
      let plain = true;
      if (cacheMaxAge !== undefined) {
        if (cacheMaxAge !== lastDuration) {
          lastDuration = cacheMaxAge;
          lastDurationBytes = durationField(cacheMaxAge);
        }
        durationBytes = lastDurationBytes;
        plain = durationBytes !== undefined;
      }
      const keyLength = deviceKey === undefined ? 0 : typeof deviceKey === "string" && isAscii(deviceKey) ? deviceKey.length : -1;
      const statusValue = status === undefined ? 0 : (status as number);
      if (plain && keyLength >= 0 && Number.isInteger(statusValue) && statusValue >= 0 && statusValue < SMALL) {
        size = (keyLength > 0 ? 1 + varintLength(keyLength) + keyLength : 0) + (statusValue !== 0 ? 1 + varintLength(statusValue) : 0) + (durationBytes?.length ?? 0);
        durations[i] = durationBytes;
      }
    }
    if (size < 0) {
      const bytes = toBinary(DeviceCheckSchema, isMessage(check, DeviceCheckSchema) ? check : create(DeviceCheckSchema, check));
      (full ??= new Map()).set(i, bytes);
      total += 1 + varintLength(bytes.length) + bytes.length;
    } else {
      total += 1 + varintLength(size) + size;
    }
    sizes[i] = size;
  }
  // Pass 2: write.
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    out[pos++] = 0x0a; // field 1 (checks), length-delimited
    const size = sizes[i]!;
    if (size < 0) {
      const bytes = full!.get(i)!;
      pos = writeVarint(out, pos, bytes.length);
      out.set(bytes, pos);
      pos += bytes.length;
      continue;
    }
    pos = writeVarint(out, pos, size);
    const { deviceKey, status } = checks[i]!;
    if (deviceKey !== undefined && deviceKey.length > 0) {
      out[pos++] = 0x0a;
      pos = writeVarint(out, pos, deviceKey.length);
      for (let c = 0; c < deviceKey.length; c++) out[pos++] = deviceKey.charCodeAt(c);
    }
    if (status !== undefined && (status as number) !== 0) {
      out[pos++] = 0x10;
      pos = writeVarint(out, pos, status as number);
    }
    const durationBytes = durations[i];
    // A loop, not `set`: a Duration is a handful of bytes.
    if (durationBytes !== undefined) for (let b = 0; b < durationBytes.length; b++) out[pos++] = durationBytes[b]!;
  }
  return out;
}
