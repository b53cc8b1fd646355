/**
 * FederationService.WatchStolen: the stolen-mode feed, for manufacturers only.
 * Admits the caller (within its cap of open feeds), decodes its cursor, and
 * streams its events from every registry the gateway federates through the
 * gateway's one hub of shared followers (see stolen-feed.ts and README.md here).
 */
import { FederationService } from "../../gen/imeifed/v1/federation_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import type { CallContext, HandlerFor } from "../../rpc/index.js";
import { CALLER, type Actor, type Caller } from "../../trust/principal.js";
import type { GatewayContext } from "../gateway-context.js";
import type { RegistryLink } from "../upstream/registry-link.js";
import { createLogger, type Logger } from "../../observability/logger.js";
import { decodeFeedCursor } from "./feed-cursor.js";
import type { ChangeSource, FollowBackoff, FollowLog } from "./registry-change-follower.js";
import { stolenFeed } from "./stolen-feed.js";
import { StolenFeedHub } from "./stolen-feed-hub.js";
import { tacFilterFor } from "./tac-filter.js";

/** Tuning of the feed; the defaults suit production, tests shorten the backoff. */
export interface WatchStolenOptions {
  readonly backoff?: FollowBackoff;
  readonly log?: FollowLog;
}

/** The feed's log lines go through the gateway's structured logger (followers log countries and statuses, never IMEIs). */
function loggerLog(logger: Logger): FollowLog {
  return ({ level, msg, ...fields }) => logger[level](msg, fields);
}

/** Refuses anyone but a manufacturer calling for itself with `devices:watch`; returns the manufacturer. */
function admitManufacturer(caller: Caller | undefined): Caller["principal"] {
  if (!caller) {
    throw new ImeifedError(Code.UNAUTHENTICATED, "UNAUTHENTICATED", "WatchStolen needs a bearer token of a manufacturer principal");
  }
  const { principal } = caller;
  if (principal.kind !== "manufacturer") {
    throw new ImeifedError(
      Code.PERMISSION_DENIED,
      "NOT_A_MANUFACTURER",
      `WatchStolen is the stolen-mode feed for manufacturers; ${principal.id} is a ${principal.kind} principal (use Lookup to check devices)`,
    );
  }
  if (caller.actor !== undefined) {
    // A delegated call would let one party read another manufacturer's feed.
    throw new ImeifedError(Code.PERMISSION_DENIED, "DELEGATION_REFUSED", "WatchStolen cannot be called on someone's behalf; the manufacturer must call with its own token");
  }
  if (!caller.scopes.has("devices:watch")) {
    throw new ImeifedError(Code.PERMISSION_DENIED, "SCOPE_REQUIRED", `scope devices:watch is required for WatchStolen; mint ${principal.id}'s token with --scope devices:watch`);
  }
  return principal;
}

/** A registry link as a change source, its calls made under the gateway's identity acting for the manufacturer. */
function changeSourceOf(link: RegistryLink, manufacturer: Actor): ChangeSource {
  return {
    country: link.country,
    async *watchChanges(request, options) {
      // The token is fetched per connection (the minter reuses it until near expiry), so a reconnection never uses a stale one.
      const metadata = await link.metadata(manufacturer, ["devices:watch"]);
      yield* link.client.watchChanges(request, { ...options, metadata });
    },
  };
}

/** Builds the WatchStolen handler for the gateway (FEDERATION_HANDLERS' `watchStolen` factory). */
export function createWatchStolenHandler(gw: GatewayContext, options: WatchStolenOptions = {}): HandlerFor<(typeof FederationService)["method"]["watchStolen"]> {
  const log = options.log ?? loggerLog(createLogger("gateway").child({ component: "stolen-feed" }));
  const { progressIntervalMs, ...limits } = gw.config.stolenFeed;
  const hub = new StolenFeedHub({ limits, log, ...(options.backoff ? { backoff: options.backoff } : {}) });
  return async function* watchStolen(request, ctx: CallContext) {
    const principal = admitManufacturer(ctx.values.get(CALLER));
    const from = decodeFeedCursor(request.cursor);
    const manufacturer: Actor = { id: principal.id, kind: principal.kind, country: principal.country };
    const release = hub.admitStream(principal.id);
    // Hubs (another gateway as upstream) are not followed: their feed would need the manufacturer's own delegation there.
    const sources = gw.links.filter((link) => link.kind === "registry").map((link) => changeSourceOf(link, manufacturer));
    // One controller for every upstream stream of this call: aborted when the manufacturer goes away or the handler ends.
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    if (ctx.signal.aborted) stop.abort();
    try {
      yield* stolenFeed({
        hub,
        // Feeds share followers only when the registries see the same requester and the gateway filters the same TACs.
        audience: { id: principal.id, key: JSON.stringify([manufacturer, principal.tacPrefixes]), tacFilter: tacFilterFor(principal.tacPrefixes) },
        sources,
        from,
        replay: request.replay,
        headOf: (country) => gw.changeHead?.(country),
        progressIntervalMs,
        fail: (error) => ctx.abort(error),
        signal: stop.signal,
        log: (entry) => log({ ...entry, detail: `${entry.detail ?? ""}${entry.detail ? "; " : ""}manufacturer ${principal.id}` }),
        ...(options.backoff ? { backoff: options.backoff } : {}),
      });
    } finally {
      release();
      ctx.signal.removeEventListener("abort", onAbort);
      stop.abort();
    }
  };
}
