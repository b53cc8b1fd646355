/**
 * Connections as an attacker or a plain HTTP/2 client makes them, without
 * grpc-js (which reconnects, pools and hides what the server did): raw TCP
 * sockets that send hand-built HTTP/2 frames and ignore whatever comes back,
 * node:http2 sessions that speak gRPC to the health service, and the wait for
 * a server process's descriptors to come back to a baseline.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect as connectHttp2, constants, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { connect as connectTcp, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { eventually, waitFor } from "./waiting.js";

/** The client connection preface (RFC 9113 §3.4), before its SETTINGS frame. */
const CLIENT_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const FRAME = { DATA: 0, HEADERS: 1, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 } as const;
const FLAG = { END_STREAM: 0x1, END_HEADERS: 0x4 } as const;
/** The largest frame payload a peer must accept before SETTINGS say otherwise. */
const MAX_FRAME = 16_384;

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** An HPACK integer with a 7-bit prefix (RFC 7541 §5.1), for string lengths without Huffman coding. */
function hpackLength(n: number): Buffer {
  if (n < 127) return Buffer.from([n]);
  const bytes = [127];
  for (n -= 127; n >= 128; n = Math.floor(n / 128)) bytes.push((n % 128) + 128);
  bytes.push(n);
  return Buffer.from(bytes);
}

/** One header as a literal without indexing, new name (RFC 7541 §6.2.2). */
function literalHeader(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0]), hpackLength(name.length), Buffer.from(name), hpackLength(value.length), Buffer.from(value)]);
}

/** The preface, an empty SETTINGS frame, and a Health/Check request's headers carrying one `x-pad` header of `padBytes`: a HEADERS frame and as many CONTINUATION frames as it takes. */
export function oversizedHeaderBlock(padBytes: number): Buffer {
  const block = Buffer.concat([
    literalHeader(":method", "POST"),
    literalHeader(":scheme", "http"),
    literalHeader(":path", "/grpc.health.v1.Health/Check"),
    literalHeader(":authority", "imeifed"),
    literalHeader("content-type", "application/grpc"),
    literalHeader("te", "trailers"),
    literalHeader("x-pad", "a".repeat(padBytes)),
  ]);
  const frames = [CLIENT_PREFACE, frame(FRAME.SETTINGS, 0, 0)];
  for (let at = 0; at < block.length; at += MAX_FRAME) {
    const first = at === 0;
    const last = at + MAX_FRAME >= block.length;
    frames.push(frame(first ? FRAME.HEADERS : FRAME.CONTINUATION, (first ? FLAG.END_STREAM : 0) | (last ? FLAG.END_HEADERS : 0), 1, block.subarray(at, at + MAX_FRAME)));
  }
  return Buffer.concat(frames);
}

/** The preface and SETTINGS, then a DATA frame on stream 0: a connection error (PROTOCOL_ERROR) for the server. */
export function dataOnConnectionStream(): Buffer {
  return Buffer.concat([CLIENT_PREFACE, frame(FRAME.SETTINGS, 0, 0), frame(FRAME.DATA, 0, 0, Buffer.from("x"))]);
}

/** A raw TCP connection that sends what it is told and only watches what the server does. */
export interface RawConnection {
  readonly socket: Socket;
  /** Bytes the server sent. */
  readonly bytesReceived: number;
  /** Error codes of the GOAWAY frames the server sent. */
  readonly goaways: readonly number[];
  /** PING frames the server sent (none is ever answered). */
  readonly pings: number;
  /** Milliseconds from before the connect until the server closed it; fails the test if it is still open after `limitMs`. */
  closed(limitMs: number): Promise<number>;
}

/** Connects from `localAddress` (a loopback address of the test's choosing, so each scenario is a client machine of its own) and sends `bytes`. */
export async function rawConnection(port: number, localAddress: string, bytes?: Buffer): Promise<RawConnection> {
  const started = Date.now();
  const socket = connectTcp({ port, host: "127.0.0.1", localAddress });
  let pending = Buffer.alloc(0);
  const state = { bytesReceived: 0, goaways: [] as number[], pings: 0 };
  socket.on("data", (chunk: Buffer) => {
    state.bytesReceived += chunk.length;
    // Frames after the first bytes; a reset connection may cut the last one short.
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      const type = pending[3];
      if (type === FRAME.GOAWAY) state.goaways.push(pending.readUInt32BE(9 + 4));
      if (type === FRAME.PING) state.pings += 1;
      pending = pending.subarray(9 + length);
    }
  });
  // A refused connection is reset: that is an outcome to observe, not an error.
  socket.on("error", () => {});
  // Not events.once, which rejects on a reset.
  const closedAt = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - started)));
  await new Promise((resolve) => {
    socket.once("connect", resolve);
    socket.once("close", resolve);
  });
  if (bytes && !socket.destroyed) socket.write(bytes);
  return {
    socket,
    get bytesReceived() {
      return state.bytesReceived;
    },
    goaways: state.goaways,
    get pings() {
      return state.pings;
    },
    async closed(limitMs) {
      const timeout = sleep(limitMs).then(() => undefined);
      const afterMs = await Promise.race([closedAt, timeout]);
      if (afterMs === undefined) {
        socket.destroy();
        assert.fail(`the server left a connection from ${localAddress} open for ${limitMs} ms (${state.bytesReceived} bytes received, GOAWAY ${state.goaways.join(",") || "none"})`);
      }
      return afterMs;
    },
  };
}

/** A node:http2 session from `localAddress`, once the server's SETTINGS arrived; it answers the server's PINGs by itself. */
export async function http2Session(port: number, localAddress: string): Promise<ClientHttp2Session & { goawayCodes: number[] }> {
  const session = Object.assign(connectHttp2(`http://127.0.0.1:${port}`, { createConnection: () => connectTcp({ port, host: "127.0.0.1", localAddress }) }), { goawayCodes: [] as number[] });
  session.on("goaway", (code: number) => session.goawayCodes.push(code));
  session.on("error", () => {});
  await Promise.race([once(session, "remoteSettings"), once(session, "close").then(() => assert.fail(`a connection from ${localAddress} was closed before the server's SETTINGS`))]);
  return session;
}

const HEALTH_HEADERS = { ":method": "POST", "content-type": "application/grpc", te: "trailers" };
/** An empty HealthCheckRequest (service "": the whole server) as one gRPC message. */
const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);

/** Calls grpc.health.v1.Health/Check on `session` and resolves to the grpc-status it ended with. */
export async function healthCheck(session: ClientHttp2Session): Promise<string> {
  const stream = session.request({ ...HEALTH_HEADERS, ":path": "/grpc.health.v1.Health/Check" });
  stream.end(EMPTY_MESSAGE);
  stream.resume();
  const [trailers] = (await once(stream, "trailers")) as [Record<string, string>];
  return String(trailers["grpc-status"]);
}

/** Opens grpc.health.v1.Health/Watch on `session` (a call that stays open) once its first answer arrived. */
export async function healthWatch(session: ClientHttp2Session): Promise<ClientHttp2Stream> {
  const stream = session.request({ ...HEALTH_HEADERS, ":path": "/grpc.health.v1.Health/Watch" });
  stream.end(EMPTY_MESSAGE);
  stream.on("error", () => {});
  await once(stream, "data");
  stream.resume();
  return stream;
}

/** Closes `session` at once (RST for its streams, then the socket). */
export function dropSession(session: ClientHttp2Session): void {
  session.destroy(undefined, constants.NGHTTP2_CANCEL);
}

/** Descriptors a process holds when nothing is happening: read until three reads in a row agree. */
export async function settledDescriptors(read: () => number): Promise<number> {
  const reads: number[] = [];
  return waitFor(
    "a steady descriptor count",
    () => {
      reads.push(read());
      const last = reads.slice(-3);
      return last.length === 3 && last.every((n) => n === last[0]) ? last[0] : undefined;
    },
    { intervalMs: 100 },
  );
}

/** Waits (up to `timeoutMs`) until the process holds no more descriptors than `baseline`; fails the test otherwise. */
export async function descriptorsBackTo(read: () => number, baseline: number, timeoutMs = 5_000): Promise<void> {
  const before = read();
  await eventually(`the process's open descriptors back at ${baseline} from ${before}`, () => read() <= baseline, { timeoutMs, intervalMs: 50 });
}
