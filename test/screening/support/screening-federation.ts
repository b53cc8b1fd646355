/**
 * A real federation for the screening tests: registries from the registry
 * fixture (SQLite in temp dirs), a real gateway in front of them over
 * sockets, with the tripwire on and the sample TAC data loaded, and
 * FederationService clients that carry real tokens.
 */
import { fileURLToPath } from "node:url";
import { FederationService } from "../../../gen/imeifed/v1/federation_pb.js";
import { RegistryService, type Sighting } from "../../../gen/imeifed/v1/registry_pb.js";
import { createClient, type Client } from "../../../rpc/index.js";
import { parseGatewayConfig, type GatewayConfigInput } from "../../../gateway/config.js";
import { startGateway, type GatewayOptions, type RunningGateway } from "../../../gateway/gateway-server.js";
import { luhnCheckDigit } from "../../../device/index.js";
import { createTestTrust, type TestTrust } from "../../support/trust-fixture.js";
import { startTestRegistry, type TestRegistry, type TestReport } from "../../support/registry-fixture.js";

export const TAC_SAMPLE = fileURLToPath(new URL("../../fixtures/tac-sample.csv", import.meta.url));

/** The 15-digit IMEI of a 14-digit body. */
export const imeiOf = (body: string): string => body + String(luhnCheckDigit(body));

export interface ScreeningFederation {
  trust: TestTrust;
  registries: Map<string, TestRegistry>;
  gateway: RunningGateway;
  /** A FederationService client calling the gateway as `principalId`. */
  client(principalId: string): Client<typeof FederationService>;
  /** A second gateway over the same trust, for a test that needs other upstreams or settings. */
  startGateway(
    registries: { country: string; address: string; batchLimit?: number }[],
    config?: Partial<GatewayConfigInput>,
    options?: Partial<GatewayOptions>,
    /** How long to wait for every registry's change stream (0 when one is known to be down). */
    readyMs?: number,
  ): Promise<RunningGateway>;
  cleanup(): Promise<void>;
}

export interface ScreeningFederationOptions {
  countries?: string[];
  seed?: Record<string, TestReport[]>;
  gatewayConfig?: Partial<GatewayConfigInput>;
  trust?: TestTrust;
}

/** Starts registries for `countries` (default GB, ES, JP, BR, US) and a gateway before them. */
export async function startScreeningFederation(options: ScreeningFederationOptions = {}): Promise<ScreeningFederation> {
  const countries = options.countries ?? ["GB", "ES", "JP", "BR", "US"];
  const ownTrust = !options.trust;
  const trust = options.trust ?? (await createTestTrust());
  const registries = new Map<string, TestRegistry>();
  const gateways: RunningGateway[] = [];
  const clients: Client<typeof FederationService>[] = [];
  const cleanup = async () => {
    for (const c of clients) c.close();
    for (const g of gateways) await g.shutdown(200);
    for (const r of registries.values()) await r.cleanup();
    if (ownTrust) await trust.cleanup();
  };
  const start = async (list: { country: string; address: string; batchLimit?: number }[], config: Partial<GatewayConfigInput> = {}, gatewayOptions: Partial<GatewayOptions> = {}, readyMs = 5_000) => {
    const gateway = await startGateway({
      config: parseGatewayConfig({
        id: "gateway",
        listen: "127.0.0.1:0",
        trustFile: trust.trustFile,
        key: trust.privateKeyFile("gateway"),
        registries: list.map((r) => ({ id: `registry-${r.country.toLowerCase()}`, ...r })),
        tacFile: TAC_SAMPLE,
        deadlines: { upstreamMaxMs: 1_000, marginMs: 25 },
        breaker: { failureThreshold: 3, coolDownMs: 300 },
        freshness: { reconnectMinMs: 50, reconnectMaxMs: 500 },
        ...config,
      }),
      trust: trust.trust,
      ...gatewayOptions,
    });
    gateways.push(gateway);
    if (readyMs > 0) await gateway.ready(readyMs);
    return gateway;
  };
  try {
    for (const country of countries) {
      registries.set(country, await startTestRegistry({ country, trust, seed: options.seed?.[country] ?? [] }));
    }
    const gateway = await start(
      countries.map((country) => ({ country, address: registries.get(country)!.registry.address })),
      options.gatewayConfig,
    );
    return {
      trust,
      registries,
      gateway,
      client(principalId) {
        const c = createClient(FederationService, gateway.address, { metadata: trust.metadataFor(principalId, "gateway") });
        clients.push(c);
        return c;
      },
      startGateway: start,
      cleanup,
    };
  } catch (error) {
    await cleanup().catch(() => {});
    throw error;
  }
}

/**
 * Follows an agency's WatchSightings on one registry and resolves the first
 * sighting that `match` accepts, or rejects after `timeoutMs`.
 */
export function watchForSighting(
  registry: TestRegistry,
  agency: string,
  match: (s: Sighting) => boolean,
  timeoutMs: number,
): { sighting: Promise<Sighting & { receivedAt: number }>; stop(): void } {
  const abort = new AbortController();
  const client: Client<typeof RegistryService> = registry.client(agency);
  const sighting = (async () => {
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      for await (const response of client.watchSightings({ afterSequence: 0n }, { signal: abort.signal })) {
        if (response.sighting && match(response.sighting)) return Object.assign(response.sighting, { receivedAt: Date.now() });
      }
      throw new Error("the sighting stream ended without the sighting");
    } catch (error) {
      if (abort.signal.aborted) throw new Error(`no matching sighting for ${agency} within ${timeoutMs} ms`);
      throw error;
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  })();
  return { sighting, stop: () => abort.abort() };
}
