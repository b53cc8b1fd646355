/**
 * The protobuf wire pieces the hand codecs share: the envelope of
 * CheckDevicesStream's messages (an id and one embedded message), and the
 * varint writer of codecs that write into a buffer sized up front. Varints
 * are read with protobuf-es's own BinaryReader. Numbers, not bigints: an id
 * or a length never nears 2^53, and number arithmetic keeps the hot path
 * allocation-free.
 */
import { BinaryReader } from "@bufbuild/protobuf/wire";

/** Bytes a varint of `value` (a non-negative integer below 2^53) takes. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** Writes `value` (a non-negative integer below 2^53) as a varint at `pos`; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    out[pos++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[pos++] = value;
  return pos;
}

/**
 * A uint32 varint at the reader's position (advanced past it): a one-byte
 * varint (every length and enum value the hot messages hold) is read inline,
 * a longer one by BinaryReader, which throws on bytes that end inside it.
 * `bytes` are the reader's bytes.
 */
export function readUint32(bytes: Uint8Array, reader: BinaryReader): number {
  const first = bytes[reader.pos]!;
  if (first < 0x80) {
    reader.pos++;
    return first;
  }
  return reader.uint32();
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

/**
 * An envelope read back: its id, the tag of its one length-delimited field
 * and that field's bytes; undefined when the message has any other shape (an
 * id of 2^53 or more, another field, bytes that end early), which protobuf-es
 * then decodes or refuses itself.
 */
export function decodeEnvelope(bytes: Uint8Array): { id: number; tag: number; inner: Uint8Array } | undefined {
  const end = bytes.length;
  const reader = new BinaryReader(bytes);
  try {
    let id = 0;
    if (bytes[0] === 0x08) {
      reader.pos = 1;
      const read = BigInt(reader.uint64());
      if (read > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
      id = Number(read);
    }
    if (reader.pos >= end) return undefined;
    const tag = bytes[reader.pos++]!;
    if ((tag & 0x07) !== 2) return undefined;
    const length = reader.uint32();
    if (reader.pos + length !== end) return undefined;
    return { id, tag, inner: bytes.subarray(reader.pos, end) };
  } catch {
    // The bytes end inside a varint: protobuf-es words the error.
    return undefined;
  }
}
