/**
 * Starts a federation gateway: loads its identity and trust, opens a link per
 * upstream, follows every registry's change stream, and serves
 * FederationService behind authentication (and quotas when configured), with
 * health and reflection. Several gateways can run side by side with no shared
 * state: each keeps its own cache true from the same change streams.
 */
import type { Interceptor } from "@grpc/grpc-js";
import type { JWK } from "jose";
import { FederationService } from "../gen/imeifed/v1/federation_pb.js";
import { hosted, startHost, type ServerInterceptor } from "../rpc/index.js";
import { shareStreamBudget } from "../rpc/stream-budget.js";
import { Admission } from "../trust/admission.js";
import { createAuditInterceptor, openAuditLog, type AuditLog } from "../trust/audit/index.js";
import { createAuthenticator } from "../trust/authenticator.js";
import { readPrivateJwk } from "../trust/keys.js";
import { createQuotaInterceptor, QuotaLimiter, type QuotaConfig } from "../trust/quota.js";
import { channelCredentials, serverCredentials } from "../trust/tls.js";
import { TokenMinter } from "../trust/token-minter.js";
import { TrustStore } from "../trust/trust-store.js";
import { TacDatabase } from "../device/tac-database.js";
import type { CircuitState } from "./upstream/circuit-breaker.js";
import { ChangeFollower } from "./cache/change-follower.js";
import type { GatewayConfig } from "./config.js";
import { FederationChecker } from "./federation/federation-checker.js";
import { createFederationService, FEDERATION_CODECS, FEDERATION_HANDLERS, FEDERATION_SCOPES, type HandlerFactories } from "./federation-service.js";
import { FindingCache } from "./cache/finding-cache.js";
import type { GatewayContext, GatewayMetrics, TacLookup, Tripwire, UpstreamTokenMinter } from "./gateway-context.js";
import type { FlushEvent } from "./upstream/registry-batcher.js";
import { RegistryLink } from "./upstream/registry-link.js";
import { createTripwire } from "./tripwire/registry-tripwire.js";
import { TokenGate } from "../trust/token-gate.js";
import { startNetworkFronts, type NetworkFronts, type NetworkFrontsOptions } from "../networks/network-fronts.js";

export interface GatewayOptions {
  config: GatewayConfig;
  /** Already loaded trust (tests); default: loaded from `config.trustFile`. */
  trust?: TrustStore;
  /** The gateway's private key (tests); default: read from `config.key`. */
  privateJwk?: JWK;
  /** Run before authentication (tracing). */
  outerInterceptors?: ServerInterceptor[];
  /** Run after authentication and quotas (audit). */
  innerInterceptors?: ServerInterceptor[];
  /** grpc-js client interceptors for every upstream channel (tracing). */
  clientInterceptors?: Interceptor[];
  tac?: TacLookup;
  /** The tripwire; default: the registry tripwire (gateway/tripwire); `false` turns it off. */
  tripwire?: Tripwire | false;
  metrics?: GatewayMetrics;
  /** The audit log (tests); default: opened from `config.audit` when set. */
  audit?: AuditLog;
  /** Overrides the handler factory table (tests). */
  factories?: HandlerFactories;
  /** Told of every batch sent upstream (tests, diagnostics). */
  onFlush?: (country: string, event: FlushEvent) => void;
  /** Told of circuit state changes (logs). */
  onCircuitState?: (country: string, state: CircuitState) => void;
  /** Told of every answer a mobile network's front gives (default: policy answers logged on stderr; networks/network-fronts.ts). */
  onNetworkAnswer?: NetworkFrontsOptions["onAnswer"];
  /** Where the network fronts log (default: JSON lines on stderr). */
  logger?: NetworkFrontsOptions["logger"];
}

/** A running gateway. */
export interface RunningGateway {
  readonly address: string;
  readonly port: number;
  readonly context: GatewayContext;
  /** The change follower of each registry, by country. */
  readonly followers: ReadonlyMap<string, ChangeFollower>;
  /** The fronts mobile networks ask through (config `networks`), served in this process. */
  readonly networks: NetworkFronts;
  /** Resolves when every registry's change stream has caught up (false after `timeoutMs`). */
  ready(timeoutMs?: number): Promise<boolean>;
  /** Stops serving (in-flight calls get `graceMs` to finish), stops following, closes every channel. */
  shutdown(graceMs?: number): Promise<void>;
}

function isOptions(x: GatewayConfig | GatewayOptions): x is GatewayOptions {
  return "config" in x && typeof (x as GatewayOptions).config === "object";
}

/** Starts a gateway from a validated config (or from options around one). */
export async function startGateway(configOrOptions: GatewayConfig | GatewayOptions): Promise<RunningGateway> {
  const options: GatewayOptions = isOptions(configOrOptions) ? configOrOptions : { config: configOrOptions };
  const { config } = options;
  const trust = options.trust ?? (await TrustStore.load(config.trustFile));
  const privateJwk = options.privateJwk ?? (await readPrivateJwk(config.key));
  const minter: UpstreamTokenMinter = new TokenMinter({ issuer: config.id, privateJwk });
  const metrics = options.metrics;
  const onCircuitState = (country: string, state: CircuitState) => {
    metrics?.circuitState?.(country, state);
    options.onCircuitState?.(country, state);
    // A registry seen answering again: reconnect its change stream now rather than after the backoff.
    if (state === "closed") followers.get(country)?.nudge();
  };
  const links = await Promise.all(
    config.registries.map(
      async (upstream) =>
        new RegistryLink({
          upstream,
          config,
          minter,
          ...(upstream.tls ? { credentials: await channelCredentials(upstream.tls) } : {}),
          ...(options.clientInterceptors ? { interceptors: options.clientInterceptors } : {}),
          onCircuitState,
        }),
    ),
  );
  const cache = new FindingCache(config.cache);
  const followers = new Map<string, ChangeFollower>();
  for (const link of links) {
    if (link.kind !== "registry") continue;
    followers.set(link.country, new ChangeFollower({ link, cache, reconnectMinMs: config.freshness.reconnectMinMs, reconnectMaxMs: config.freshness.reconnectMaxMs }));
  }
  const checker = new FederationChecker({
    links,
    cache,
    config,
    freshness: { live: (country) => followers.get(country)?.live ?? false },
    ...(metrics ? { metrics } : {}),
    ...(options.onFlush ? { onFlush: options.onFlush } : {}),
  });
  const audit = options.audit ?? (config.audit ? await openAuditLog(config.audit) : undefined);
  const tac = options.tac ?? (config.tacFile ? await TacDatabase.load(config.tacFile) : undefined);
  const quota = config.quotas !== undefined ? new QuotaLimiter(config.quotas as QuotaConfig) : undefined;
  const gw: GatewayContext & { tripwire?: Tripwire } = {
    config,
    links,
    linkFor: (country) => links.find((l) => l.country === country) ?? links.find((l) => l.answersFor(country)),
    changeHead: (country) => {
      const follower = followers.get(country);
      return follower?.live ? { epoch: follower.position.epoch, seq: follower.position.sequence } : undefined;
    },
    checker,
    minter,
    ...(audit ? { audit } : {}),
    ...(tac ? { tac } : {}),
    ...(metrics ? { metrics } : {}),
    ...(quota ? { quota } : {}),
  };
  let closeTripwire: (() => Promise<void>) | undefined;
  if (options.tripwire) gw.tripwire = options.tripwire;
  else if (options.tripwire === undefined) {
    const tripwire = createTripwire(gw);
    gw.tripwire = tripwire;
    closeTripwire = () => tripwire.close();
  }
  const service = await createFederationService(gw, options.factories ?? FEDERATION_HANDLERS);
  const admission = new Admission(config.admission);
  // One gate for every front: a token verified on one is remembered on all, and an address's failures count once.
  const gate = new TokenGate({ trust, audience: config.id, maxTokenLifetimeSec: config.auth.maxTokenLifetimeSec, failuresPerAddressPerMinute: config.auth.failuresPerAddressPerMinute });
  const interceptors: ServerInterceptor[] = [
    ...(options.outerInterceptors ?? []),
    createAuthenticator({ trust, audience: config.id, scopes: FEDERATION_SCOPES, kinds: { WatchStolen: ["manufacturer"] }, gate }),
    // Right after the caller is known and before any work: past its limits a call is refused at once.
    admission.interceptor(),
    ...(quota ? [createQuotaInterceptor(quota)] : []),
    // ReportFound's entry is on disk before the answer: the found report it records has reached the registries.
    ...(audit ? [createAuditInterceptor(audit, { server: config.id, durableMethods: ["ReportFound"] })] : []),
    ...(options.innerInterceptors ?? []),
  ];
  const host = await startHost({
    listen: config.listen,
    // Screen's requests are decoded by hand (equal to protobuf-es, several times cheaper): a manifest's items.
    services: [hosted(FederationService, service, FEDERATION_CODECS)],
    interceptors,
    ...(config.tls ? { credentials: await serverCredentials(config.tls) } : {}),
    allowInsecureNonLoopback: config.allowInsecure,
    connections: config.connections,
    channelOptions: admission.serverOptions,
  });
  shareStreamBudget(host.server, admission.streamBudget);
  let networks: NetworkFronts;
  try {
    networks = await startNetworkFronts({
      config: config.networks,
      trust,
      logger: options.logger,
      checker,
      tripwire: gw.tripwire,
      audit,
      server: config.id,
      gate,
      admission,
      quota,
      metrics,
      ...(options.onNetworkAnswer ? { onAnswer: options.onNetworkAnswer } : {}),
    });
  } catch (error) {
    await host.shutdown(0);
    checker.close();
    await closeTripwire?.();
    for (const link of links) link.close();
    await audit?.close();
    throw error;
  }
  for (const follower of followers.values()) follower.start();
  let stopped: Promise<void> | undefined;
  return {
    address: host.address,
    port: host.port,
    context: gw,
    followers,
    networks,
    async ready(timeoutMs = 5_000) {
      const all = await Promise.all([...followers.values()].map((f) => f.waitLive(timeoutMs)));
      return all.every(Boolean);
    },
    shutdown(graceMs = 2_000) {
      stopped ??= (async () => {
        await Promise.all([networks.close(graceMs), host.shutdown(graceMs)]);
        checker.close();
        await Promise.all([...followers.values()].map((f) => f.stop()));
        await closeTripwire?.();
        for (const link of links) link.close();
        await audit?.close();
      })();
      return stopped;
    },
  };
}

