/**
 * HTTP/2 flow-control windows: how much a peer may send before it must wait
 * for this side to acknowledge (WINDOW_UPDATE).
 *
 * Why wider than the default: Node's (and so grpc-js's) window is the RFC's
 * 64 KiB, per stream and per connection. A 5,000-IMEI CheckDevices request
 * (~85 KB) then stops mid-message until the registry acknowledges, and a
 * Screen stream's sender stalls every two or three manifest messages; on a
 * loaded process each of those waits is a turn of a busy event loop.
 * Measured with the screening benchmark (A/B, runs interleaved): cold ~+8%,
 * warm ~+20% items/s. The windows stay bounded: they are what a peer may have
 * in flight, not what a slow reader may be made to hold beyond its own
 * back-pressure.
 *
 * grpc-js takes a window option for clients only (`grpc-node.flow_control_window`,
 * in DEFAULT_CHANNEL_OPTIONS); a server's stays at 64 KiB (grpc/grpc-node#3058
 * proposes the option for servers). Until that lands, `widenServerWindows`
 * sets it on the HTTP/2 servers grpc-js made, found through its `http2Servers`
 * map, which its typed API does not expose: a test reads the window a client
 * is granted, so a grpc-js upgrade that moves the map fails that test instead
 * of silently losing the tuning.
 */
import type { Http2Server, Http2Session } from "node:http2";
import type { Server } from "@grpc/grpc-js";

/** The window of each stream: a whole bulk request or a run of Screen messages in flight. */
export const STREAM_WINDOW_BYTES = 1 << 20;
/** The window of each connection, shared by its streams (a gateway's many streams to one registry). */
export const CONNECTION_WINDOW_BYTES = 4 << 20;

/** Grants every connection of `server` the wider windows; false when grpc-js no longer exposes its HTTP/2 servers. */
export function widenServerWindows(server: Server): boolean {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) return false;
  for (const http2Server of servers.keys() as Iterable<Http2Server>) {
    // Advertised in the SETTINGS each new connection starts with: every stream's initial window.
    http2Server.updateSettings({ initialWindowSize: STREAM_WINDOW_BYTES });
    http2Server.on("session", (session: Http2Session) => {
      // The connection's own window is not a setting: it is raised by a WINDOW_UPDATE once the session is up.
      session.once("localSettings", () => {
        if (!session.destroyed) session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
      });
    });
  }
  return true;
}
