/**
 * The gateway's encoder of CheckDevicesRequest, the message it writes most:
 * a screened manifest sends every chunk to every registry.
 *
 * A chunk goes to each registry as the same request (the same key list,
 * purpose and flag), so a bulk request is encoded once and its bytes reused
 * for the other registries. The bytes are protobuf-es's own, written with
 * its BinaryWriter field by field (no `create` of the message first): a
 * hand-written writer (the IMEIs joined and written as latin1) measured
 * slower than protobuf-es for a 10,000-IMEI chunk (bench/RESULTS.md, codecs).
 * The output equals `toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, value))`
 * (tests compare the two over generated requests).
 */
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { CheckDevicesRequestSchema } from "../../gen/imeifed/v1/registry_pb.js";

type RequestInit = MessageInitShape<typeof CheckDevicesRequestSchema>;

/**
 * Bulk requests already encoded, by their IMEI list: keyed by the list
 * itself, which the gateway never changes once it has asked with it; an entry
 * goes when its list is collected.
 */
const encodedBulk = new WeakMap<readonly string[], { purpose: string; listedOnly: boolean; bytes: Buffer }>();
/** Lists shorter than this (a lookup's batch) are not worth remembering. */
const BULK_SIZE = 256;

/** Encodes a CheckDevicesRequest (message or init); equal to `toBinary(create(CheckDevicesRequestSchema, value))`. */
export function encodeCheckDevicesRequest(value: unknown): Buffer {
  const request = value as RequestInit & { $unknown?: unknown[] };
  if (request.$unknown !== undefined && request.$unknown.length > 0) return Buffer.from(toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, request)));
  const imeis = request.imeis ?? [];
  const purpose = request.purpose ?? "";
  const listedOnly = request.listedOnly ?? false;
  const bulk = imeis.length >= BULK_SIZE;
  const known = bulk ? encodedBulk.get(imeis) : undefined;
  if (known && known.purpose === purpose && known.listedOnly === listedOnly) return known.bytes;
  const bytes = checkDevicesRequestBytes(imeis, purpose, listedOnly);
  if (!bytes) return Buffer.from(toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, request)));
  if (bulk) encodedBulk.set(imeis, { purpose, listedOnly, bytes });
  return bytes;
}

/**
 * The bytes of a CheckDevicesRequest with these fields, for a call or inside
 * a CheckDevicesStream envelope; undefined when a value is not of its type
 * (the caller lets protobuf-es report it).
 */
export function checkDevicesRequestBytes(imeis: readonly string[], purpose: string, listedOnly: boolean): Buffer | undefined {
  if (typeof purpose !== "string" || typeof listedOnly !== "boolean") return undefined;
  const writer = new BinaryWriter();
  for (let i = 0; i < imeis.length; i++) {
    const imei = imeis[i];
    if (typeof imei !== "string") return undefined;
    writer.tag(1, WireType.LengthDelimited).string(imei);
  }
  if (purpose !== "") writer.tag(2, WireType.LengthDelimited).string(purpose);
  if (listedOnly) writer.tag(3, WireType.Varint).bool(true);
  const bytes = writer.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
