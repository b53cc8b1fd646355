/**
 * A hand-written decoder for CheckDevicesRequest, the message a registry
 * reads most: up to 10,000 IMEIs a call, each one a UTF-8 string to
 * protobuf-es's `fromBinary`.
 *
 * Why: IMEIs are ASCII digits. This decoder turns the whole request into one
 * latin1 string with one native call and cuts each IMEI out of it, instead of
 * one TextDecoder call per IMEI. Anything outside the plain shape (a non-ASCII
 * byte, an unknown field, a long varint, a truncated message) goes to
 * `fromBinary`, so the result, errors included, equals what `fromBinary`
 * returns (tests compare the two over generated messages).
 */
import { isAscii } from "node:buffer";
import { fromBinary } from "@bufbuild/protobuf";
import { CheckDevicesRequestSchema, type CheckDevicesRequest } from "../../gen/imeifed/v1/registry_pb.js";

/** Decodes a CheckDevicesRequest; equal to `fromBinary(CheckDevicesRequestSchema, bytes)`. */
export function decodeCheckDevicesRequest(bytes: Buffer): CheckDevicesRequest {
  const plain = plainDecode(bytes);
  return plain ?? fromBinary(CheckDevicesRequestSchema, bytes);
}

/** The request when every byte is in the plain shape; undefined when fromBinary must decide. */
function plainDecode(bytes: Buffer): CheckDevicesRequest | undefined {
  const end = bytes.length;
  const text = bytes.toString("latin1", 0, end);
  // One native scan: when every byte is ASCII (nearly every request), no field needs its own check.
  const ascii = isAscii(bytes);
  const imeis: string[] = [];
  let purpose = "";
  let listedOnly = false;
  let pos = 0;
  while (pos < end) {
    const tag = bytes[pos++]!;
    if (tag === 0x18) {
      // listed_only (3): a one-byte bool; anything longer goes to fromBinary.
      const b = bytes[pos++];
      if (b !== 0 && b !== 1) return undefined;
      listedOnly = b === 1;
      continue;
    }
    if (tag !== 0x0a && tag !== 0x12) return undefined; // only imeis (1) and purpose (2), length-delimited
    // A length of at most 3 varint bytes (< 2 MiB); longer ones are left to fromBinary.
    let length = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end || shift > 14) return undefined;
      const b = bytes[pos++]!;
      length |= (b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7;
    }
    const stop = pos + length;
    if (stop > end) return undefined;
    if (!ascii) for (let i = pos; i < stop; i++) if (bytes[i]! >= 0x80) return undefined; // UTF-8 beyond ASCII: fromBinary decodes it
    const value = text.slice(pos, stop);
    if (tag === 0x0a) imeis.push(value);
    else purpose = value;
    pos = stop;
  }
  return { $typeName: "imeifed.v1.CheckDevicesRequest", imeis, purpose, listedOnly };
}
