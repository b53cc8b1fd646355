/**
 * The few protobuf wire primitives the hand-written envelope codecs need
 * (CheckDevicesStream's id + embedded batch): a varint of up to 2^53 and a
 * length-delimited field header. Numbers, not bigints: an id or a length
 * never nears 2^53, and number arithmetic keeps the hot path allocation-free.
 */

/** Bytes a varint of `value` takes. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** Writes `value` as a varint at `pos`; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    out[pos++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[pos++] = value;
  return pos;
}

/** A varint read at `at.pos` (advanced past it); undefined when truncated or beyond 2^53 (let the general decoder decide). */
export function readVarint(bytes: Uint8Array, at: { pos: number }, end: number): number | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    if (at.pos >= end) return undefined;
    const b = bytes[at.pos++]!;
    value += (b & 0x7f) * scale;
    // Beyond 2^53 a number loses digits: leave such a value to the general decoder.
    if (b < 0x80) return value <= Number.MAX_SAFE_INTEGER ? value : undefined;
    scale *= 0x80;
  }
  return undefined;
}

/**
 * An envelope message: field 1 a varint id, then one length-delimited field
 * whose bytes `inner` are given, as `tag` (the field's tag byte, e.g. 0x12
 * for field 2). The bytes protobuf-es writes for the same message.
 */
export function encodeEnvelope(id: number, tag: number, inner: Uint8Array): Buffer {
  const size = (id === 0 ? 0 : 1 + varintSize(id)) + 1 + varintSize(inner.length) + inner.length;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  if (id !== 0) pos = writeVarint(out, writeVarint(out, pos, 0x08), id);
  pos = writeVarint(out, writeVarint(out, pos, tag), inner.length);
  out.set(inner, pos);
  return out;
}

/** An envelope read back: its id, the tag of its one length-delimited field and that field's bytes; undefined when the message has any other shape. */
export function decodeEnvelope(bytes: Uint8Array): { id: number; tag: number; inner: Uint8Array } | undefined {
  const end = bytes.length;
  const at = { pos: 0 };
  let id = 0;
  if (bytes[0] === 0x08) {
    at.pos = 1;
    const read = readVarint(bytes, at, end);
    if (read === undefined) return undefined;
    id = read;
  }
  if (at.pos >= end) return undefined;
  const tag = bytes[at.pos++]!;
  if ((tag & 0x07) !== 2) return undefined;
  const length = readVarint(bytes, at, end);
  if (length === undefined || at.pos + length !== end) return undefined;
  return { id, tag, inner: bytes.subarray(at.pos, end) };
}

/**
 * Thrown by the hand-written decoders' fast paths when the bytes leave the
 * plain shape they read; each decoder catches it and lets protobuf-es decide.
 */
export const NOT_PLAIN = Symbol("not plain");

/** A varint of at most 4 bytes (< 2^28, lengths and small numbers) read at `at.pos`; throws NOT_PLAIN for longer or truncated ones. */
export function readSmallVarint(bytes: Uint8Array, at: { pos: number }, end: number): number {
  let value = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (at.pos >= end) throw NOT_PLAIN;
    const b = bytes[at.pos++]!;
    value |= (b & 0x7f) << shift;
    if (b < 0x80) return value;
  }
  throw NOT_PLAIN;
}
