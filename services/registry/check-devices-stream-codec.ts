/**
 * The registry's hand-written encoder of CheckDevicesStream answers: an
 * envelope (an id and one CheckDevicesResponse) around the answer
 * CheckDevices already encodes by hand (check-devices-encoder.ts), so a
 * stream answer costs what a call's answer costs. Anything outside the plain
 * envelope shape goes to protobuf-es, so the bytes equal
 * `toBinary(create(...))` (tested). Its requests are decoded by protobuf-es:
 * a hand decoder measured within the run-to-run spread of `fromBinary`
 * (bench/codecs.ts, bench/RESULTS.md) and was deleted.
 */
import { create, isMessage, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { CheckDevicesStreamResponseSchema } from "../../gen/imeifed/v1/registry_pb.js";
import { encodeEnvelope } from "../../rpc/wire.js";
import { encodeCheckDevicesResponse } from "./check-devices-encoder.js";

/** The `checks` field's tag: field 2, length-delimited. */
const CHECKS_TAG = 0x12;

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
