/**
 * Typed AVP values (RFC 6733 §4.2, §4.3): building an AVP from a dictionary
 * entry and a value of its type, and reading one back as a typed value or a
 * DecodeError (AVP_VALUE, with the AVP to blame) — never a throw.
 */
import { isIPv4, isIPv6 } from "node:net";
import { decodeAvps } from "./decode.js";
import { decodeError, decoded, type Decoded } from "./decode-error.js";
import type { AvpDefinition, AvpType } from "./dictionary.js";
import { encodeAvps } from "./encode.js";
import type { DiameterAvp } from "./message.js";

/** The TypeScript value of each AVP type. Address is an IPv4 or IPv6 address as text. */
export interface AvpValues {
  Unsigned32: number;
  Enumerated: number;
  OctetString: Buffer;
  UTF8String: string;
  DiameterIdentity: string;
  Address: string;
  Grouped: readonly DiameterAvp[];
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** An AVP of `definition` carrying `value`, with the definition's code, vendor and M bit. */
export function avpOf<T extends AvpType>(definition: AvpDefinition<T>, value: AvpValues[T]): DiameterAvp {
  return { code: definition.code, vendorId: definition.vendorId, mandatory: definition.mandatory, protected: false, data: encodeValue(definition.type, value) };
}

function encodeValue<T extends AvpType>(type: T, value: AvpValues[T]): Buffer {
  switch (type) {
    case "Unsigned32": {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(value as number);
      return b;
    }
    case "Enumerated": {
      const b = Buffer.alloc(4);
      b.writeInt32BE(value as number);
      return b;
    }
    case "OctetString":
      return Buffer.from(value as Buffer);
    case "UTF8String":
    case "DiameterIdentity":
      return Buffer.from(value as string, "utf8");
    case "Address":
      return encodeAddress(value as string);
    case "Grouped":
      return encodeAvps(value as readonly DiameterAvp[]);
  }
  throw new TypeError(`no encoder for AVP type ${String(type)}`);
}

/** Reads `avp` as a value of `definition`'s type. */
export function valueOf<T extends AvpType>(definition: AvpDefinition<T>, avp: DiameterAvp): Decoded<AvpValues[T]> {
  return decodeValue(definition, avp) as Decoded<AvpValues[T]>;
}

function decodeValue(definition: AvpDefinition, avp: DiameterAvp): Decoded<AvpValues[AvpType]> {
  const { data } = avp;
  const wrong = (what: string) => decodeError("AVP_VALUE", `${definition.name} (${definition.code}) ${what}`, avp);
  switch (definition.type) {
    case "Unsigned32":
      return data.length === 4 ? decoded(data.readUInt32BE(0)) : wrong(`must be 4 bytes (Unsigned32); got ${data.length}`);
    case "Enumerated":
      return data.length === 4 ? decoded(data.readInt32BE(0)) : wrong(`must be 4 bytes (Enumerated); got ${data.length}`);
    case "OctetString":
      return decoded(data);
    case "UTF8String":
    case "DiameterIdentity": {
      let text: string;
      try {
        text = strictUtf8.decode(data);
      } catch {
        return wrong("is not valid UTF-8");
      }
      if (definition.type === "DiameterIdentity" && !/^[\x21-\x7e]+$/.test(text)) return wrong("must be a non-empty FQDN or realm in printable ASCII");
      return decoded(text);
    }
    case "Address": {
      const address = decodeAddress(data);
      return address === undefined ? wrong("must be an address family 1 (IPv4, 4 bytes) or 2 (IPv6, 16 bytes)") : decoded(address);
    }
    case "Grouped": {
      const inner = decodeAvps(data);
      if (inner.ok) return inner;
      // The inner failure names the inner AVP; the peer is told about the outer one, whose bytes it sent.
      return decodeError(inner.error.problem, `${definition.name} (${definition.code}): ${inner.error.message}`, avp);
    }
  }
}

/** The first AVP of `definition` (same code and vendor) among `avps`. */
export function findAvp(avps: readonly DiameterAvp[], definition: AvpDefinition): DiameterAvp | undefined {
  for (const avp of avps) if (avp.code === definition.code && avp.vendorId === definition.vendorId) return avp;
  return undefined;
}

/** Every AVP of `definition` among `avps`, in order. */
export function findAvps(avps: readonly DiameterAvp[], definition: AvpDefinition): DiameterAvp[] {
  return avps.filter((avp) => avp.code === definition.code && avp.vendorId === definition.vendorId);
}

function encodeAddress(text: string): Buffer {
  if (isIPv4(text)) return Buffer.from([0, 1, ...text.split(".").map(Number)]);
  if (isIPv6(text)) return Buffer.concat([Buffer.from([0, 2]), ipv6Bytes(text)]);
  throw new TypeError(`${text} is not an IPv4 or IPv6 address`);
}

function decodeAddress(data: Buffer): string | undefined {
  if (data.length < 2) return undefined;
  const family = data.readUInt16BE(0);
  if (family === 1 && data.length === 6) return [...data.subarray(2)].join(".");
  if (family === 2 && data.length === 18) {
    const groups: string[] = [];
    for (let i = 2; i < 18; i += 2) groups.push(data.readUInt16BE(i).toString(16));
    return groups.join(":");
  }
  return undefined;
}

function ipv6Bytes(text: string): Buffer {
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups first.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let hex = text;
  if (v4?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = v4[1].split(".").map(Number);
    hex = text.slice(0, -v4[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = hex.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const zeros = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill("0");
  const out = Buffer.alloc(16);
  [...headGroups, ...zeros, ...tailGroups].forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
