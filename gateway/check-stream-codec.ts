/**
 * The gateway's hand-written codecs for CheckDevicesStream: a question is an
 * envelope (id + one CheckDevicesRequest), an answer an envelope (id + one
 * CheckDevicesResponse, read by the CheckDevices decoder). protobuf-es's
 * general path spent tens of µs on each such small message, on every one of
 * a Lookup's five upstream asks. Anything outside the plain shape goes to
 * protobuf-es, so the results equal its own (tested).
 */
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { CheckDevicesStreamRequestSchema, CheckDevicesStreamResponseSchema, type CheckDevicesStreamResponse } from "../gen/imeifed/v1/registry_pb.js";
import { decodeEnvelope, encodeEnvelope, varintSize, writeVarint } from "../rpc/wire.js";
import { decodeCheckDevicesResponse } from "./check-devices-decoder.js";

/** The `checks` field's tag: field 2, length-delimited. */
const CHECKS_TAG = 0x12;
/** The `batch` field's tag: field 2, length-delimited. */
const BATCH_TAG = 0x12;

/** Decodes a CheckDevicesStreamResponse; equal to `fromBinary(CheckDevicesStreamResponseSchema, bytes)`. */
export function decodeCheckDevicesStreamResponse(bytes: Uint8Array): CheckDevicesStreamResponse {
  const envelope = decodeEnvelope(bytes);
  if (!envelope || envelope.tag !== CHECKS_TAG) return fromBinary(CheckDevicesStreamResponseSchema, bytes);
  return { $typeName: "imeifed.v1.CheckDevicesStreamResponse", id: BigInt(envelope.id), result: { case: "checks", value: decodeCheckDevicesResponse(envelope.inner) } };
}

type RequestInit = MessageInitShape<typeof CheckDevicesStreamRequestSchema>;

/** Encodes a CheckDevicesStreamRequest init; equal to `toBinary(create(CheckDevicesStreamRequestSchema, value))`. */
export function encodeCheckDevicesStreamRequest(value: unknown): Buffer {
  const request = value as RequestInit;
  const id = request.id === undefined ? 0 : Number(request.id);
  const batch = request.batch;
  // A traced batch (a trace context to carry) is rare enough for the general path.
  const traced = request.traceContext !== undefined && Object.keys(request.traceContext).length > 0;
  if (!batch || traced || !Number.isSafeInteger(id) || "$typeName" in request || "$typeName" in batch) {
    return Buffer.from(toBinary(CheckDevicesStreamRequestSchema, create(CheckDevicesStreamRequestSchema, request)));
  }
  const imeis = batch.imeis ?? [];
  const purpose = batch.purpose ?? "";
  let size = 0;
  for (const imei of imeis) size += field(Buffer.byteLength(imei));
  const purposeBytes = Buffer.byteLength(purpose);
  if (purposeBytes > 0) size += field(purposeBytes);
  const inner = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const imei of imeis) pos = put(inner, pos, 0x0a, imei);
  if (purposeBytes > 0) put(inner, pos, 0x12, purpose);
  return encodeEnvelope(id, BATCH_TAG, inner);
}

/** Bytes of a length-delimited field of `length` bytes (one tag byte). */
function field(length: number): number {
  return 1 + varintSize(length) + length;
}

function put(out: Buffer, pos: number, tag: number, text: string): number {
  out[pos++] = tag;
  pos = writeVarint(out, pos, Buffer.byteLength(text));
  return pos + out.write(text, pos, "utf8");
}
