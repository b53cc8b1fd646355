/**
 * `imeifed registry serve`: runs one country's registry until SIGTERM (or
 * SIGINT), then shuts down cleanly: no new calls, open streams told to
 * reconnect, running calls finished, the store closed; exit status 0.
 */
import { once } from "node:events";
import { loadRegistryConfig, parseRegistryConfig, type RegistryConfig } from "../../services/registry/registry-config.js";
import { startRegistry } from "../../services/registry/registry-server.js";
import { startObservability } from "../../observability/index.js";
import { loadTrustWithReload } from "../trust-reload.js";
import { parseFlags } from "../args.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";

const USAGE = `usage: imeifed registry serve (--config FILE | --country CC (--db FILE | --postgres URL [--schema S]) --trust FILE)
                              [--listen HOST:PORT] [--id ID] [--attestation-key FILE]
                              [--batch-limit N] [--cache-max-age-sec N] [--allow-insecure]

Serves one country's RegistryService with gRPC health and server reflection.

  --config FILE            a JSON or YAML registry config (services/registry/registry-config.ts);
                           flags given beside it override its fields
  --country CC             ISO 3166-1 alpha-2 code of the registry's country
  --db FILE                the SQLite database (created and migrated if absent)
  --postgres URL           a PostgreSQL connection string instead (several processes may share it)
  --schema S               the PostgreSQL schema (default registry_<cc>)
  --trust FILE             the trust file: who may call, with which keys
  --listen HOST:PORT       default 127.0.0.1:50061; port 0 picks a free port
  --id ID                  the registry's principal id (default registry-<cc>)
  --attestation-key FILE   private JWK that signs attestations (generated there if absent)
  --batch-limit N          most IMEIs per CheckDevices (default 10000)
  --cache-max-age-sec N    how long callers may keep an answer (default 300; 0 = no copies)
  --allow-insecure         plaintext on a non-loopback address (an explicit decision)

Prints one JSON line when serving (with the bound address) and one when stopped.`;

function integer(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${flag}: ${JSON.stringify(text)} is not a whole number`);
  return Number(text);
}

async function configFrom(argv: string[]): Promise<RegistryConfig> {
  const { values, positionals } = parseFlags(argv, {
    config: { type: "string" },
    country: { type: "string" },
    db: { type: "string" },
    postgres: { type: "string" },
    schema: { type: "string" },
    trust: { type: "string" },
    listen: { type: "string" },
    id: { type: "string" },
    "attestation-key": { type: "string" },
    "batch-limit": { type: "string" },
    "cache-max-age-sec": { type: "string" },
    "allow-insecure": { type: "boolean" },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.db !== undefined && values.postgres !== undefined) throw new UsageError("give --db or --postgres, not both");
  if (values.schema !== undefined && values.postgres === undefined) throw new UsageError("--schema goes with --postgres");
  const overrides = {
    ...(values.country !== undefined ? { country: values.country } : {}),
    ...(values.db !== undefined ? { db: { sqlite: values.db } } : {}),
    ...(values.postgres !== undefined ? { db: { postgres: values.postgres, ...(values.schema ? { schema: values.schema } : {}) } } : {}),
    ...(values.trust !== undefined ? { trustFile: values.trust } : {}),
    ...(values.listen !== undefined ? { listen: values.listen } : {}),
    ...(values.id !== undefined ? { id: values.id } : {}),
    ...(values["attestation-key"] !== undefined ? { attestationKey: values["attestation-key"] } : {}),
    ...(values["batch-limit"] !== undefined ? { batchLimit: integer(values["batch-limit"], "batch-limit") } : {}),
    ...(values["cache-max-age-sec"] !== undefined ? { cacheMaxAgeSec: integer(values["cache-max-age-sec"], "cache-max-age-sec") } : {}),
    ...(values["allow-insecure"] ? { allowInsecure: true } : {}),
  };
  if (values.config !== undefined) {
    const base = await loadRegistryConfig(values.config);
    // Paths in flags are relative to the working directory; the file's are already resolved.
    return parseRegistryConfig({ ...base, ...overrides }, process.cwd(), `${values.config} with flags`);
  }
  if (values.country === undefined) throw new UsageError("--country (or --config) is required");
  if (values.db === undefined && values.postgres === undefined) throw new UsageError("--db FILE or --postgres URL is required");
  if (values.trust === undefined) throw new UsageError("--trust FILE is required: the registry must know who may call");
  return parseRegistryConfig(overrides, process.cwd(), "flags");
}

export const command: Command = {
  summary: "serve one country's registry (RegistryService) until SIGTERM",
  usage: USAGE,
  async run(argv) {
    const config = await configFrom(argv);
    // Logs as JSON lines on stderr; traces and metrics over OTLP when OTEL_* say so.
    const observability = await startObservability({ serviceName: `imeifed-registry-${config.country.toLowerCase()}` });
    const reloadable = config.trustFile ? await loadTrustWithReload(config.trustFile, observability.logger) : undefined;
    const registry = await startRegistry({ ...config, outerInterceptors: observability.rpcTracing.server, ...(reloadable ? { trust: reloadable.trust } : {}) });
    // Listening before the line below goes out: whoever reads it may signal at once, and an
    // unhandled SIGTERM would end the process without the clean shutdown.
    const stopSignal = Promise.race([once(process, "SIGTERM").then(() => "SIGTERM"), once(process, "SIGINT").then(() => "SIGINT")]);
    console.log(
      JSON.stringify({
        level: "info",
        msg: "registry serving",
        country: registry.country,
        id: registry.id,
        address: registry.address,
        store: registry.store.kind,
        epoch: registry.store.epoch,
        pid: process.pid,
      }),
    );
    const signal = await stopSignal;
    reloadable?.stop();
    await registry.shutdown();
    await observability.shutdown();
    console.log(JSON.stringify({ level: "info", msg: "registry stopped", signal, country: registry.country }));
    return EXIT_OK;
  },
};
