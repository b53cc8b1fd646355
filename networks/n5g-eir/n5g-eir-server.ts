/**
 * The N5g-eir front's listener: what 5G cores speak, cleartext HTTP/2 with
 * prior knowledge, and HTTP/1.1 for tools, on one port; or TLS with ALPN
 * (h2, http/1.1) when the config gives a certificate.
 *
 * One plain TCP listener accepts every connection, so the connection guard
 * (rpc/connection-guard.ts: caps in total and per client machine, a deadline
 * for the client to start talking) counts and refuses it before any HTTP or
 * TLS work. A cleartext connection goes to the HTTP/2 server when its first
 * bytes are the HTTP/2 preface (`PRI * HTTP/2.0`, which no HTTP/1.1 method
 * begins with), otherwise to the HTTP/1.1 server; the bytes read to decide
 * are put back first. A TLS connection goes to one secure HTTP/2 server
 * that also speaks HTTP/1.1 (`allowHTTP1`), chosen by ALPN.
 */
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Code, ImeifedError } from "../../errors/index.js";
import { ConnectionGuard } from "../../rpc/connection-guard.js";
import { isLoopbackHost, splitHostPort } from "../../rpc/host.js";
import { clientAddress } from "../../rpc/peer-address.js";
import type { EirRequest, EirResponse } from "./equipment-status-handler.js";
import type { N5gEirConfig } from "./n5g-eir-config.js";

/** The first bytes of every HTTP/2 connection with prior knowledge (RFC 9113 clause 3.4). */
const PREFACE_START = Buffer.from("PRI ");

/** A running N5g-eir listener. */
export interface N5gEirListener {
  /** `host:port` as bound. */
  readonly address: string;
  readonly port: number;
  /** The API root's base, `http://host:port` or `https://host:port`. */
  readonly url: string;
  /** Connections open now. */
  readonly connections: number;
  /** Stops accepting; open connections get `graceMs` to finish their requests, then are closed. */
  close(graceMs?: number): Promise<void>;
}

type Handler = (request: EirRequest) => Promise<EirResponse>;

/** Reads one request off either HTTP version's compat API, answers it, and never throws. */
function serveWith(handle: Handler) {
  return (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    const receivedAt = Date.now();
    // A GET has no body; whatever a client sends anyway is read and dropped.
    req.resume();
    req.on("error", () => {});
    res.on("error", () => {});
    handle({
      method: req.method ?? "GET",
      url: req.url ?? "/",
      authorization: req.headers.authorization,
      accept: req.headers.accept,
      address: clientAddress(req.socket?.remoteAddress),
      receivedAt,
    }).then(
      (response) => {
        if (res.headersSent || res.writableEnded) return;
        (res as http.ServerResponse).writeHead(response.status, { ...response.headers, "content-length": String(Buffer.byteLength(response.body)) });
        if (req.method === "HEAD") res.end();
        else res.end(response.body);
      },
      () => {
        if (!res.headersSent) (res as http.ServerResponse).writeHead(500, { "content-type": "application/problem+json" });
        res.end(JSON.stringify({ title: "Internal Server Error", status: 500, detail: "internal error", cause: "SYSTEM_FAILURE" }));
      },
    );
  };
}

/** Starts listening; throws FAILED_PRECONDITION `INSECURE_LISTEN` for plaintext on a non-loopback address unless `allowInsecure`. */
export async function startN5gEirListener(config: N5gEirConfig, handle: Handler): Promise<N5gEirListener> {
  const { host, port } = splitHostPort(config.listen);
  if (!config.tls && !isLoopbackHost(host) && !config.allowInsecure) {
    throw new ImeifedError(Code.FAILED_PRECONDITION, "INSECURE_LISTEN", `refusing to serve N5g-eir on ${config.listen} without TLS; configure networks.n5gEir.tls, listen on a loopback address, or set networks.n5gEir.allowInsecure`);
  }
  const guard = new ConnectionGuard(config.connections);
  const limits = guard.limits;
  const serve = serveWith(handle);
  const settings: http2.Settings = { maxConcurrentStreams: config.maxConcurrentStreamsPerConnection, maxHeaderListSize: 16 * 1024 };
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  /** What ends each connection's preface deadline, by client endpoint, until its TLS handshake completes. */
  const awaitingHandshake = new Map<string, () => void>();

  const onSession = (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.on("error", () => {});
    // A session without a stream for this long is closed with GOAWAY; a client reconnects on its next check.
    session.setTimeout(limits.idleTimeoutMs, () => session.close());
  };

  let h2: http2.Http2Server | http2.Http2SecureServer;
  let h1: http.Server | undefined;
  if (config.tls) {
    const tls = config.tls;
    const [cert, key, ca] = await Promise.all([readFile(tls.cert), readFile(tls.key), tls.ca === undefined ? undefined : readFile(tls.ca)]).catch((error: unknown) => {
      throw new ImeifedError(Code.FAILED_PRECONDITION, "TLS_CONFIG_INVALID", `networks.n5gEir.tls: cannot read a file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
    });
    h2 = http2.createSecureServer({
      cert,
      key,
      ...(ca ? { ca } : {}),
      requestCert: tls.requireClientCert,
      rejectUnauthorized: tls.requireClientCert,
      allowHTTP1: true,
      ALPNProtocols: ["h2", "http/1.1"],
      settings,
    });
    h2.on("secureConnection", (socket: net.Socket) => awaitingHandshake.get(`${socket.remoteAddress}|${socket.remotePort}`)?.());
    h2.on("tlsClientError", () => {});
  } else {
    h2 = http2.createServer({ settings });
    h1 = http.createServer({ keepAliveTimeout: 5_000, headersTimeout: limits.prefaceTimeoutMs, requestTimeout: 30_000, maxHeaderSize: 16 * 1024 });
    h1.on("request", serve);
    h1.on("clientError", (_error, socket) => socket.destroy());
  }
  h2.on("request", serve);
  h2.on("session", onSession);
  h2.on("sessionError", () => {});

  const listener = net.createServer((socket) => {
    const prefaced = guard.admit(socket);
    if (!prefaced) return;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    if (config.tls) {
      const endpoint = `${socket.remoteAddress}|${socket.remotePort}`;
      awaitingHandshake.set(endpoint, prefaced);
      socket.once("close", () => awaitingHandshake.delete(endpoint));
      h2.emit("connection", socket);
      return;
    }
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < PREFACE_START.length && PREFACE_START.subarray(0, head.length).equals(head)) return;
      socket.off("data", onData);
      socket.pause();
      socket.unshift(head);
      prefaced();
      if (head.subarray(0, PREFACE_START.length).equals(PREFACE_START)) {
        // node:http2 reads what the socket already holds itself (and then reads the socket's handle directly).
        h2.emit("connection", socket);
      } else {
        h1!.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  });
  listener.listen(port, host);
  await once(listener, "listening");
  const bound = listener.address() as net.AddressInfo;
  const shownHost = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;

  let closing: Promise<void> | undefined;
  return {
    address: `${shownHost}:${bound.port}`,
    port: bound.port,
    url: `${config.tls ? "https" : "http"}://${shownHost}:${bound.port}`,
    get connections() {
      return guard.open;
    },
    close(graceMs = 2_000) {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => listener.close(() => resolve()));
        for (const session of sessions) session.close();
        h1?.closeIdleConnections();
        const deadline = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, graceMs);
        deadline.unref();
        await Promise.all([stopped, ...[...sockets].map((s) => (s.destroyed ? undefined : once(s, "close").then(() => undefined)))]);
        clearTimeout(deadline);
      })();
      return closing;
    },
  };
}
