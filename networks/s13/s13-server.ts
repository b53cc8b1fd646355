/**
 * The S13 listener: TCP, or TLS from config, taking at most `maxConnections`
 * connections (one more is closed at once) and handing each to a
 * PeerConnection. Shutting down asks every open peer to disconnect (DPR)
 * and closes what is left after the grace period.
 */
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { Logger } from "../../observability/logger.js";
import { serverTlsMaterial, type ServerTlsConfig } from "../../trust/tls.js";
import type { LocalIdentity } from "./answers.js";
import { PeerConnection, type ApplicationHandler, type ConnectionLimits } from "./peer-connection.js";
import type { PeerTable } from "./peer-table.js";

export interface S13ServerOptions {
  /** host:port; port 0 picks a free one. */
  readonly listen: string;
  readonly tls?: ServerTlsConfig;
  readonly identity: LocalIdentity;
  readonly peers: PeerTable;
  readonly limits: ConnectionLimits & { readonly maxConnections: number };
  readonly meIdentityCheck: ApplicationHandler;
  readonly log: Logger;
}

export interface RunningS13Server {
  readonly address: string;
  readonly port: number;
  /** Open connections now. */
  readonly connections: number;
  /** Sends DPR to every open peer, stops accepting, and destroys what is still open after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

export async function startS13Server(options: S13ServerOptions): Promise<RunningS13Server> {
  const open = new Map<Socket, PeerConnection>();
  const accept = (socket: Socket) => {
    if (open.size >= options.limits.maxConnections) {
      options.log.warn("diameter connection refused: at the connection limit", { remote: socket.remoteAddress, limit: options.limits.maxConnections });
      socket.destroy();
      return;
    }
    open.set(socket, new PeerConnection(socket, options));
    socket.on("close", () => open.delete(socket));
  };
  let server: Server;
  if (options.tls) {
    const material = await serverTlsMaterial(options.tls);
    server = createTlsServer(
      {
        cert: material.cert,
        key: material.key,
        ...(material.ca ? { ca: material.ca } : {}),
        requestCert: material.requireClientCert,
        rejectUnauthorized: material.requireClientCert,
        // A handshake holds a connection slot too: it gets no longer than a CER would.
        handshakeTimeout: options.limits.capabilitiesTimeoutMs,
      },
      accept,
    );
    // A failed handshake is that client's problem; it must not reach the process.
    server.on("tlsClientError", (error) => options.log.debug("diameter TLS handshake failed", { error: error.message }));
  } else {
    server = createTcpServer(accept);
  }
  // Counted by the listener itself, so sockets still in their TLS handshake take a slot too; `accept` checks again to log the refusal.
  server.maxConnections = options.limits.maxConnections;
  const [host = "127.0.0.1", portText = "0"] = splitHostPort(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(portText), host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => options.log.error("diameter listener error", { error }));
  const bound = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    address: `${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`,
    port: bound.port,
    get connections() {
      return open.size;
    },
    close(graceMs = 1_000) {
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const connection of open.values()) connection.disconnect();
        const deadline = Date.now() + graceMs;
        while (open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        for (const socket of open.keys()) socket.destroy();
        await stopped;
      })();
      return closed;
    },
  };
}

function splitHostPort(listen: string): [string, string] {
  const at = listen.lastIndexOf(":");
  return [listen.slice(0, at).replace(/^\[(.*)\]$/, "$1"), listen.slice(at + 1)];
}
