/**
 * The client machine behind a connection, spelled one way whatever its port
 * and whichever listener it reached: what anything counted per client
 * (failed authentications, connections, anonymous quotas) is keyed by.
 *
 * What grpc-js 1.14 really reports (`ServerCall.getPeer()`, server-interceptors.ts):
 * `${socket.remoteAddress}:${socket.remotePort}`, with no brackets around an
 * IPv6 address and no `ipv4:`/`ipv6:` scheme: `127.0.0.1:51300`, `::1:51300`,
 * `::ffff:127.0.0.1:51300` (an IPv4 client of a dual-stack listener); the bare
 * address when the socket has no port, and `unknown` when it has no address
 * (a Unix socket, or a socket already gone). The port must always come off,
 * and it must come off by position, never by asking whether what is left
 * parses as an address: `2001:db8::1:1234` is itself a valid IPv6 address,
 * so a client that chose a four-digit source port would otherwise get a key
 * of its own per port. The bracketed and scheme-prefixed spellings
 * (`[::1]:51300`, `ipv4:10.0.0.7:51300`, `ipv6:[::1]:51300`) are read too.
 */
import { isIPv4 } from "node:net";

/** What a peer without an address is counted as (Unix sockets, sockets already closed): one local client. */
export const UNKNOWN_PEER = "unknown";

/** `remoteAddress` as one key per client machine: an IPv4-mapped IPv6 address (`::ffff:10.0.0.7`) is its IPv4 address. */
export function clientAddress(remoteAddress: string | undefined): string {
  if (!remoteAddress) return UNKNOWN_PEER;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  return mapped && isIPv4(mapped[1]!) ? mapped[1]! : remoteAddress.toLowerCase();
}

/** The client machine of a grpc-js peer string (see the module comment for the forms), without its port. */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(bare);
  if (bracketed) return clientAddress(bracketed[1]);
  if (bare === UNKNOWN_PEER) return UNKNOWN_PEER;
  // A socket's address and port come from one getpeername(): a peer with an address has its port last.
  const withPort = /^(.+):\d+$/.exec(bare);
  return clientAddress(withPort ? withPort[1] : bare);
}
