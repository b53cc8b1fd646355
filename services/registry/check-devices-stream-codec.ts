/**
 * The registry's hand-written codecs for CheckDevicesStream: its requests
 * and answers are envelopes (an id and one embedded message) around the
 * messages CheckDevices already decodes and encodes by hand, so a stream
 * message costs what a call's message costs, not protobuf-es's general
 * path (which showed in the registry's profile). Anything outside the plain envelope shape goes to protobuf-es,
 * so the results equal `fromBinary` / `toBinary(create(...))` (tested).
 */
import { create, fromBinary, isMessage, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { CheckDevicesStreamRequestSchema, CheckDevicesStreamResponseSchema, type CheckDevicesStreamRequest } from "../../gen/imeifed/v1/registry_pb.js";
import { decodeEnvelope, encodeEnvelope } from "../../rpc/wire.js";
import { encodeCheckDevicesResponse } from "./check-devices-encoder.js";
import { decodeCheckDevicesRequest } from "./check-devices-request-decoder.js";

/** The `batch` field's tag: field 2, length-delimited. */
const BATCH_TAG = 0x12;
/** The `checks` field's tag: field 2, length-delimited. */
const CHECKS_TAG = 0x12;

/** Decodes a CheckDevicesStreamRequest; equal to `fromBinary(CheckDevicesStreamRequestSchema, bytes)`. */
export function decodeCheckDevicesStreamRequest(bytes: Buffer): CheckDevicesStreamRequest {
  const envelope = decodeEnvelope(bytes);
  if (!envelope || envelope.tag !== BATCH_TAG) return fromBinary(CheckDevicesStreamRequestSchema, bytes);
  return { $typeName: "imeifed.v1.CheckDevicesStreamRequest", id: BigInt(envelope.id), batch: decodeCheckDevicesRequest(envelope.inner as Buffer), traceContext: {} };
}

type ResponseInit = MessageInitShape<typeof CheckDevicesStreamResponseSchema>;

/** Encodes a CheckDevicesStreamResponse (init or message); equal to `toBinary(create(...))`. */
export function encodeCheckDevicesStreamResponse(value: unknown): Buffer {
  const response = value as ResponseInit & { $unknown?: unknown[] };
  const id = response.id === undefined ? 0 : Number(response.id);
  if (response.result?.case === "checks" && Number.isSafeInteger(id) && !(response.$unknown && response.$unknown.length > 0)) {
    return encodeEnvelope(id, CHECKS_TAG, encodeCheckDevicesResponse(response.result.value));
  }
  return Buffer.from(toBinary(CheckDevicesStreamResponseSchema, isMessage(value, CheckDevicesStreamResponseSchema) ? value : create(CheckDevicesStreamResponseSchema, response)));
}
