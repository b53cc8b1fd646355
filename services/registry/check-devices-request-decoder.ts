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
 *
 * A request whose every string is printable ASCII within its field's limit
 * (nearly every one) is marked text-checked as its bytes are read, so the
 * contract's text check (contract/) need not test 10,000 strings again; any
 * other is left to that check, which words the refusal.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { CheckDevicesRequestSchema, type CheckDevicesRequest } from "../../gen/imeifed/v1/registry_pb.js";
import { markTextChecked, textLimitOf } from "../../contract/index.js";

/** The contract's text limits of the IMEIs and of the purpose. */
const IMEI_LIMIT = textLimitOf(CheckDevicesRequestSchema.field.imeis!);
const PURPOSE_LIMIT = textLimitOf(CheckDevicesRequestSchema.field.purpose!);

/** Decodes a CheckDevicesRequest; equal to `fromBinary(CheckDevicesRequestSchema, bytes)`. */
export function decodeCheckDevicesRequest(bytes: Buffer): CheckDevicesRequest {
  const plain = plainDecode(bytes);
  return plain ?? fromBinary(CheckDevicesRequestSchema, bytes);
}

/** The request when every byte is in the plain shape; undefined when fromBinary must decide. */
function plainDecode(bytes: Buffer): CheckDevicesRequest | undefined {
  const end = bytes.length;
  const text = bytes.toString("latin1", 0, end);
  const imeis: string[] = [];
  let purpose = "";
  let listedOnly = false;
  let plainText = true;
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
    if (length > (tag === 0x0a ? IMEI_LIMIT : PURPOSE_LIMIT)) plainText = false;
    // Each byte is looked at once, for ASCII and for the text rule alike: printable ASCII (nearly every byte) passes the first test.
    for (let i = pos; i < stop; i++) {
      const b = bytes[i]!;
      if (b < 0x20 || b >= 0x7f) {
        if (b >= 0x80) return undefined; // UTF-8 beyond ASCII: fromBinary decodes it
        plainText = false;
      }
    }
    const value = text.slice(pos, stop);
    if (tag === 0x0a) imeis.push(value);
    else purpose = value;
    pos = stop;
  }
  const request: CheckDevicesRequest = { $typeName: "imeifed.v1.CheckDevicesRequest", imeis, purpose, listedOnly };
  return plainText ? markTextChecked(request) : request;
}
