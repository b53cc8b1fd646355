/**
 * Attribute names and values of the OpenTelemetry RPC semantic conventions
 * for gRPC, shared by the server and client spans so both sides of a call
 * describe it the same way.
 */
import type { Attributes } from "@opentelemetry/api";
import { Code } from "../errors/index.js";

/** Semantic-convention attribute keys used on RPC spans. */
export const RPC_ATTRIBUTE = {
  system: "rpc.system",
  service: "rpc.service",
  method: "rpc.method",
  statusCode: "rpc.grpc.status_code",
  // The current conventions name the other end `network.peer.*` (and
  // `server.*` on clients); older backends still key on `net.peer.*`.
  networkPeerAddress: "network.peer.address",
  networkPeerPort: "network.peer.port",
  serverAddress: "server.address",
  serverPort: "server.port",
  netPeerName: "net.peer.name",
  netPeerPort: "net.peer.port",
  /** imeifed's stable error reason (ImeifedError.reason), for grouping failures. */
  errorReason: "imeifed.error.reason",
  /** The verified principal that called (an organisation id, not personal data). */
  callerId: "enduser.id",
  /** The party a gateway called on behalf of (RFC 8693 actor). */
  requesterId: "imeifed.requester.id",
} as const;

/** `/imeifed.v1.RegistryService/CheckDevice` -> service and method. */
export function splitMethodPath(path: string): { service: string; method: string } {
  const trimmed = path.startsWith("/") ? path.slice(1) : path;
  const slash = trimmed.lastIndexOf("/");
  return slash < 0 ? { service: "", method: trimmed } : { service: trimmed.slice(0, slash), method: trimmed.slice(slash + 1) };
}

/**
 * Parses a grpc-js peer string (`127.0.0.1:5000`, `[::1]:5000`,
 * `ipv4:127.0.0.1:5000`, `unix:/path`) into address attributes; nothing for
 * peers it cannot read.
 */
export function peerAttributes(peer: string | undefined, kind: "server" | "client"): Attributes {
  if (!peer) return {};
  const bare = peer.replace(/^(ipv4|ipv6|dns):/, "");
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(bare);
  if (!match || !match[1]) return {};
  const address = match[1];
  const port = Number(match[2]);
  const attributes: Attributes = {
    [RPC_ATTRIBUTE.networkPeerAddress]: address,
    [RPC_ATTRIBUTE.networkPeerPort]: port,
    [RPC_ATTRIBUTE.netPeerName]: address,
    [RPC_ATTRIBUTE.netPeerPort]: port,
  };
  if (kind === "client") {
    attributes[RPC_ATTRIBUTE.serverAddress] = address;
    attributes[RPC_ATTRIBUTE.serverPort] = port;
  }
  return attributes;
}

/**
 * The statuses that count as a server's own failure. The conventions leave a
 * server span's status unset for caller mistakes (INVALID_ARGUMENT,
 * PERMISSION_DENIED, NOT_FOUND, ...) so error rates show what operators must fix.
 */
const SERVER_FAULTS: ReadonlySet<Code> = new Set([Code.UNKNOWN, Code.DEADLINE_EXCEEDED, Code.UNIMPLEMENTED, Code.INTERNAL, Code.UNAVAILABLE, Code.DATA_LOSS]);

/** Whether a call that ended with `code` marks its span as an error (clients: any non-OK status). */
export function isSpanError(code: Code, kind: "server" | "client"): boolean {
  if (code === Code.OK) return false;
  return kind === "client" || SERVER_FAULTS.has(code);
}
