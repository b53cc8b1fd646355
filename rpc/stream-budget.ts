/**
 * A budget of HTTP/2 streams shared by a server's connections. Each
 * connection may have `perConnection` streams open at once (the
 * SETTINGS_MAX_CONCURRENT_STREAMS it is sent) until the connections together
 * could exceed `total`; then each one's share is `total / connections`, at
 * least 1, and grows back as connections leave.
 *
 * Why: one turn of the event loop reads every connection and starts every
 * call they carry, and grpc-js spends about as long starting a call (and so
 * refusing one) as answering it from the cache. A flood of 20,000 streams
 * therefore makes every caller's next call wait seconds for its turn, whatever
 * is refused; with the streams bounded in total, a turn is bounded too. A
 * client wanting more than its share waits on its own side; one that opens
 * streams past its SETTINGS has them reset by the HTTP/2 layer
 * (REFUSED_STREAM, which gRPC clients retry) before any of this server's code
 * runs.
 *
 * Shares are powers of two (below `perConnection`), so a wave of new
 * connections changes each connection's SETTINGS a few times, not once per
 * arrival. The HTTP/2 servers are found as `widenServerWindows` finds them
 * (flow-control.ts), with the same test guarding the grpc-js internals.
 */
import type { Http2Server, Http2Session } from "node:http2";
import type { Server } from "@grpc/grpc-js";

export interface StreamBudget {
  /** The most streams one connection may have open. */
  perConnection: number;
  /** The most streams all connections together may have open (every connection keeps at least 1). */
  total: number;
}

/** The share of each of `connections` connections. */
export function streamShare(budget: StreamBudget, connections: number): number {
  const even = Math.floor(budget.total / Math.max(1, connections));
  if (even >= budget.perConnection) return budget.perConnection;
  return even < 1 ? 1 : 2 ** Math.floor(Math.log2(even));
}

/** Shares `budget` between the connections of `server` from now on; false when grpc-js no longer exposes its HTTP/2 servers. */
export function shareStreamBudget(server: Server, budget: StreamBudget): boolean {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) return false;
  const http2Servers = [...servers.keys()] as Http2Server[];
  const sessions = new Set<Http2Session>();
  let share = budget.perConnection;
  const rebalance = () => {
    const next = streamShare(budget, sessions.size);
    if (next === share) return;
    share = next;
    // New connections start with the share in their first SETTINGS; open ones are sent new SETTINGS.
    for (const http2Server of http2Servers) http2Server.updateSettings({ maxConcurrentStreams: share });
    for (const session of sessions) {
      if (session.destroyed || session.closed) continue;
      try {
        session.settings({ maxConcurrentStreams: share });
      } catch {
        // A peer that leaves SETTINGS unacknowledged keeps its last share: the HTTP/2 layer bounds its pending SETTINGS.
      }
    }
  };
  for (const http2Server of http2Servers) {
    http2Server.on("session", (session: Http2Session) => {
      sessions.add(session);
      session.once("close", () => {
        sessions.delete(session);
        rebalance();
      });
      rebalance();
    });
  }
  return true;
}
