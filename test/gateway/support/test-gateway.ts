/**
 * Starts a real gateway over sockets in front of the given registries, with
 * the trust fixture's keys, and typed FederationService clients that carry a
 * real token of the principal they speak for.
 */
import { FederationService } from "../../../gen/imeifed/v1/federation_pb.js";
import { createClient, type Client } from "../../../rpc/index.js";
import { parseGatewayConfig, type GatewayConfigInput } from "../../../gateway/config.js";
import { startGateway, type GatewayOptions, type RunningGateway } from "../../../gateway/gateway-server.js";
import type { TestTrust } from "../../support/trust-fixture.js";

export interface TestGatewayOptions extends Omit<GatewayOptions, "config" | "trust"> {
  trust: TestTrust;
  registries: { country: string; address: string; id?: string; batchLimit?: number; timeoutMs?: number; kind?: "registry" | "gateway"; countries?: string[] }[];
  /** Overrides of the config (deadlines, cache, breaker, batching, freshness). */
  config?: Partial<GatewayConfigInput>;
  id?: string;
}

export interface TestGateway {
  gateway: RunningGateway;
  client(principalId: string): Client<typeof FederationService>;
  shutdown(): Promise<void>;
}

/** Starts a gateway (principal `gateway` unless `id` says otherwise) and waits until it follows every registry. */
export async function startTestGateway(options: TestGatewayOptions): Promise<TestGateway> {
  const { trust, registries, config: overrides, id = "gateway", ...rest } = options;
  const config = parseGatewayConfig({
    id,
    listen: "127.0.0.1:0",
    trustFile: trust.trustFile,
    key: trust.privateKeyFile(id),
    registries: registries.map((r) => ({ id: `registry-${r.country.toLowerCase()}`, ...r })),
    freshness: { reconnectMinMs: 50, reconnectMaxMs: 500 },
    breaker: { failureThreshold: 3, coolDownMs: 300 },
    ...overrides,
  });
  const gateway = await startGateway({ config, trust: trust.trust, tripwire: false, ...rest });
  await gateway.ready(5_000);
  const clients: Client<typeof FederationService>[] = [];
  return {
    gateway,
    client(principalId) {
      const client = createClient(FederationService, gateway.address, { metadata: trust.metadataFor(principalId, id) });
      clients.push(client);
      return client;
    },
    async shutdown() {
      for (const c of clients) c.close();
      await gateway.shutdown(100);
    },
  };
}
