/**
 * The gateway's hand-written codecs for CheckDevicesStream: a question is an
 * envelope (id + one CheckDevicesRequest), an answer an envelope (id + one
 * CheckDevicesResponse, read by the CheckDevices decoder). protobuf-es's
 * general path spent tens of µs on each such small message, on every one of
 * a Lookup's five upstream asks. Anything outside the plain shape goes to
 * protobuf-es, so the results equal its own (tested).
 */
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { CheckDevicesStreamRequestSchema, CheckDevicesStreamResponseSchema, type CheckDevicesStreamResponse } from "../../gen/imeifed/v1/registry_pb.js";
import { decodeEnvelope, encodeEnvelope } from "../../rpc/wire.js";
import { checkDevicesRequestBytes } from "./check-devices-request-encoder.js";
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
  const inner = checkDevicesRequestBytes(batch.imeis ?? [], batch.purpose ?? "", batch.listedOnly ?? false);
  if (!inner) return Buffer.from(toBinary(CheckDevicesStreamRequestSchema, create(CheckDevicesStreamRequestSchema, request)));
  return encodeEnvelope(id, BATCH_TAG, inner);
}
