/**
 * `imeifed gateway serve --config FILE`: runs the federation gateway until
 * SIGTERM (or SIGINT), then shuts down cleanly: no new calls, running calls
 * finished, change streams and channels closed; exit status 0. A wrong config
 * stops it before it listens, with a message naming the field.
 */
import { once } from "node:events";
import { loadGatewayConfig } from "../../gateway/config.js";
import { startGateway } from "../../gateway/gateway-server.js";
import { metrics, startObservability } from "../../observability/index.js";
import { loadTrustWithReload } from "../trust-reload.js";
import { parseFlags, required } from "../args.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";

const USAGE = `usage: imeifed gateway serve --config FILE [--listen HOST:PORT]

Serves FederationService (Lookup, Screen, ReportFound, WatchStolen,
GetRegistryKeys) in front of the registries the config names, with gRPC
health and server reflection; with networks.n5gEir, also the 3GPP N5g-eir
equipment check (HTTP/2 and HTTP/1.1) in the same process.

  --config FILE        the gateway config, JSON or YAML (gateway/config.ts):
                       id, listen, trustFile, key, registries[{country, address, id}],
                       deadlines, cache, breaker, batching, freshness, connections, tacFile, quotas,
                       admission, audit, networks (networks.n5gEir: listen, tls, budgetMs,
                       onUnanswered, onInvalidImei, sightingWindow, operators;
                       networks.s13: the Diameter S13 EIR, networks/s13/)
  --listen HOST:PORT   overrides the config's listen address (port 0 picks a free port)

Prints one JSON line when serving (with the bound address) and one when stopped.`;

export const command: Command = {
  summary: "serve the federation gateway (FederationService) until SIGTERM",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { config: { type: "string" }, listen: { type: "string" } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const loaded = await loadGatewayConfig(required(values.config, "config"));
    const config = values.listen !== undefined ? { ...loaded, listen: values.listen } : loaded;
    // Logs as JSON lines on stderr; traces and metrics over OTLP when OTEL_* say so.
    const observability = await startObservability({ serviceName: `imeifed-${config.id}` });
    const reloadable = await loadTrustWithReload(config.trustFile, observability.logger);
    const gateway = await startGateway({
      config,
      trust: reloadable.trust,
      outerInterceptors: observability.rpcTracing.server,
      clientInterceptors: observability.rpcTracing.client,
      metrics,
      logger: observability.logger,
    });
    console.log(
      JSON.stringify({
        level: "info",
        msg: "gateway serving",
        id: config.id,
        address: gateway.address,
        ...(gateway.networks.n5gEir ? { n5gEir: gateway.networks.n5gEir.url } : {}),
        registries: config.registries.map((r) => `${r.country}=${r.address}`),
        ...(gateway.networks.s13 ? { s13: gateway.networks.s13.address } : {}),
        pid: process.pid,
      }),
    );
    const signal = await Promise.race([once(process, "SIGTERM").then(() => "SIGTERM"), once(process, "SIGINT").then(() => "SIGINT")]);
    reloadable.stop();
    await gateway.shutdown();
    await observability.shutdown();
    console.log(JSON.stringify({ level: "info", msg: "gateway stopped", signal, id: config.id }));
    return EXIT_OK;
  },
};
