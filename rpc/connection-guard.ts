/**
 * Bounds on a server's connections, the way grpc-go's keepalive enforcement
 * and Envoy's connection limits bound theirs: every connection costs a file
 * descriptor and an HTTP/2 session, so the number open is capped in total
 * and per client machine (the excess is reset the moment it is accepted), a
 * connection that does not start HTTP/2 within a few seconds is closed, and
 * so is one that stays without a call for too long or stops answering pings.
 *
 * Who does what:
 * - The caps and the preface deadline are ours: a listener on the HTTP/2
 *   servers grpc-js made (its `http2Servers` map, as flow-control.ts reaches
 *   them) counts each accepted socket, resets the excess, and arms the
 *   deadline, met when the client's SETTINGS arrive (the end of the HTTP/2
 *   connection preface; over TLS, the handshake comes first and counts too).
 * - Idleness and keepalive are grpc-js's own server options
 *   (`grpc.max_connection_idle_ms`, `grpc.keepalive_time_ms`,
 *   `grpc.keepalive_timeout_ms`), which `serverOptions` sets.
 *
 * Keepalive also ends the sessions node:http2 gives up on without closing:
 * on a connection error (a header block too large to decode, a frame on the
 * wrong stream, a malformed SETTINGS) nghttp2 sends GOAWAY and stops reading,
 * but Node never destroys the session, so its socket would stay open for as
 * long as the client keeps it, even after the client closes. Such a session
 * sends no PING, never answers, and is destroyed when the ping times out.
 */
import type { Socket } from "node:net";
import type { Http2Server, Http2SecureServer, ServerHttp2Session } from "node:http2";
import type { ChannelOptions, Server } from "@grpc/grpc-js";
import { z } from "zod";
import { validateConfig } from "../config/config-file.js";
import { clientAddress } from "./peer-address.js";

/** A server's connection limits; every field has a default, so `{}` is a complete configuration. */
export const connectionLimitsSchema = z
  .object({
    /**
     * Connections open at once, from everyone (default 10,000). Past it, a new
     * connection is reset as soon as it is accepted. Keep it well below the
     * process's descriptor limit (`ulimit -n`), which the process's own files,
     * databases and upstream channels share: Envoy's overload manager caps
     * downstream connections the same way, so that a flood is refused before
     * descriptors run out for everyone.
     */
    maxTotal: z.number().int().min(1).default(10_000),
    /**
     * Connections open at once from one client machine (default 256). A
     * partner's processes often leave through one NAT address, each holding a
     * channel or two, so the cap is generous for them; it keeps one address
     * from taking more than a small share of `maxTotal`.
     */
    maxPerAddress: z.number().int().min(1).default(256),
    /**
     * How long a new connection has to complete the TLS handshake (if any) and
     * the HTTP/2 preface before it is closed (default 5 s). A client does both
     * in two or three round trips; the bound is several times that on the
     * slowest intercontinental link, and far below grpc-go's 120 s connection
     * timeout, which lets a silent socket hold a descriptor for two minutes.
     */
    prefaceTimeoutMs: z.number().int().min(1).default(5_000),
    /**
     * A connection with no call in flight for this long is closed with GOAWAY
     * (default 5 min; grpc-js's `grpc.max_connection_idle_ms`, grpc-go's
     * MaxConnectionIdle). Long enough to keep a partner's channel up between
     * bursts, short enough that connections nobody uses give their place in
     * the caps back well before Envoy's default of an hour would. Clients
     * reconnect on their next call; a watch keeps its connection busy.
     */
    idleTimeoutMs: z.number().int().min(1).default(300_000),
    /**
     * How often the server pings each connection (default 1 min;
     * `grpc.keepalive_time_ms`). grpc-go pings after 2 h by default, which is
     * enough to find a dead peer; here the ping is also what ends sessions
     * node:http2 has stopped serving (see the module comment), so it runs
     * often enough that those do not pile up.
     */
    keepaliveMs: z.number().int().min(1).default(60_000),
    /** How long a ping may go unanswered before the connection is closed (default 20 s, grpc-go's default; `grpc.keepalive_timeout_ms`). */
    keepaliveTimeoutMs: z.number().int().min(1).default(20_000),
  })
  .strict();

/** Validated connection limits. */
export type ConnectionLimits = z.output<typeof connectionLimitsSchema>;
/** Connection limits as a config file or a caller states them (defaults not yet applied). */
export type ConnectionLimitsInput = z.input<typeof connectionLimitsSchema>;

/** A connection on its way in: its client end is `remoteAddress|remotePort`, its listener's end `localPort`. */
function endpointKey(socket: Pick<Socket, "remoteAddress" | "remotePort" | "localPort">): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localPort}`;
}

/** Counts, refuses and times the connections of one server. */
export class ConnectionGuard {
  readonly limits: ConnectionLimits;
  #open = 0;
  readonly #perAddress = new Map<string, number>();
  /** What ends the preface deadline of each connection that has not yet sent it, by endpointKey. */
  readonly #awaitingPreface = new Map<string, () => void>();

  /** Throws INVALID_ARGUMENT naming the field when a limit is not a positive whole number. */
  constructor(limits: ConnectionLimitsInput = {}) {
    this.limits = validateConfig(connectionLimitsSchema, limits, "connection limits");
  }

  /** The grpc-js Server options that carry the idle and keepalive limits. */
  get serverOptions(): ChannelOptions {
    return {
      "grpc.max_connection_idle_ms": this.limits.idleTimeoutMs,
      "grpc.keepalive_time_ms": this.limits.keepaliveMs,
      "grpc.keepalive_timeout_ms": this.limits.keepaliveTimeoutMs,
    };
  }

  /** Connections admitted and not yet closed. */
  get open(): number {
    return this.#open;
  }

  /** Guards every listener of `server` (call it after binding); false when grpc-js no longer exposes its HTTP/2 servers. */
  guard(server: Server): boolean {
    const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
    if (!(servers instanceof Map)) return false;
    for (const http2Server of servers.keys() as Iterable<Http2Server | Http2SecureServer>) {
      // Before node:http2's own listener, so a refused socket never gets TLS or HTTP/2 work.
      http2Server.prependListener("connection", (socket: Socket) => this.#admit(socket));
      http2Server.on("session", (session: ServerHttp2Session) => this.#watchPreface(session));
    }
    return true;
  }

  #admit(socket: Socket): void {
    this.admit(socket);
  }

  /**
   * Counts a connection accepted by a listener this guard does not own (a
   * front that is not grpc-js, networks/), resetting it when a cap is
   * reached, and arms its preface deadline. Returns what ends the deadline,
   * to call once the client has started its protocol; undefined when the
   * connection was refused.
   */
  admit(socket: Socket): (() => void) | undefined {
    const address = clientAddress(socket.remoteAddress);
    const fromAddress = this.#perAddress.get(address) ?? 0;
    if (socket.remoteAddress === undefined || this.#open >= this.limits.maxTotal || fromAddress >= this.limits.maxPerAddress) {
      // A reset, not a FIN: the client learns at once, and this side keeps no TIME_WAIT for it.
      if (socket.remoteAddress === undefined) socket.destroy();
      else socket.resetAndDestroy();
      return undefined;
    }
    this.#open += 1;
    this.#perAddress.set(address, fromAddress + 1);
    const key = endpointKey(socket);
    const deadline = setTimeout(() => socket.destroy(), this.limits.prefaceTimeoutMs);
    deadline.unref();
    const prefaced = () => {
      clearTimeout(deadline);
      this.#awaitingPreface.delete(key);
    };
    this.#awaitingPreface.set(key, prefaced);
    socket.once("close", () => {
      prefaced();
      this.#open -= 1;
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else this.#perAddress.delete(address);
    });
    return prefaced;
  }

  /** Ends a session's preface deadline when its client's SETTINGS arrive (a refused socket's session has none). */
  #watchPreface(session: ServerHttp2Session): void {
    const prefaced = this.#awaitingPreface.get(endpointKey(session.socket));
    if (prefaced) session.once("remoteSettings", prefaced);
  }
}
