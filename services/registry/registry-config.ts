/**
 * A registry's configuration, validated once at start into a typed object so
 * a wrong file (or flag) fails before anything listens, with a message naming
 * the field. `imeifed registry serve` flags map onto the same schema.
 * Relative paths in a config file are resolved against the file's directory.
 */
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { readConfigFile, resolverFrom, validateConfig } from "../../config/config-file.js";
import { connectionLimitsSchema } from "../../rpc/connection-guard.js";
import { admissionConfigSchema } from "../../trust/admission.js";
import { auditConfigSchema } from "../../trust/audit/index.js";
import { quotaConfigSchema } from "../../trust/quota.js";
import { sharingPolicySchema } from "../../trust/sharing-policy.js";
import { serverTlsSchema } from "../../trust/tls.js";

const country = z
  .string()
  .regex(/^[A-Za-z]{2}$/, "must be an ISO 3166-1 alpha-2 code such as GB")
  .transform((c) => c.toUpperCase());

const address = z.string().regex(/^(\[[^\]]+\]|[^:\s]+):\d+$/, "must be host:port");

/** Where the records live: one SQLite file (the default), or a PostgreSQL schema shared by several registry processes. */
export const registryDbSchema = z.union([
  z.object({ sqlite: z.string().min(1) }).strict(),
  z
    .object({
      postgres: z.string().min(1),
      /** Default `registry_<country>`, e.g. `registry_gb`. */
      schema: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case SQL identifier")
        .optional(),
    })
    .strict(),
]);

export const registryConfigSchema = z
  .object({
    country,
    /** The registry's principal id: the audience of its tokens, the issuer of its attestations. Default `registry-<country>`. */
    id: z.string().min(1).optional(),
    listen: address.default("127.0.0.1:50061"),
    db: registryDbSchema,
    /** The trust file (principals and their keys); optional only when a TrustStore is handed to startRegistry. */
    trustFile: z.string().min(1).optional(),
    /** Private JWK that signs attestations; generated if the file does not exist (default: next to the SQLite file, or kept in the PostgreSQL schema). */
    attestationKey: z.string().min(1).optional(),
    /** Key of the opaque case tokens; default: a random key made at the first migration and kept in the database. */
    caseTokenSecret: z.string().min(16, "must be at least 16 characters").optional(),
    /** Most IMEIs in one CheckDevices call. */
    batchLimit: z.number().int().min(1).max(100_000).default(10_000),
    /** How long callers may keep an answer, in seconds; 0 forbids copies (as some sources require). */
    cacheMaxAgeSec: z.number().int().min(0).default(300),
    /** What each kind of partner may see (trust/sharing-policy.ts documents the defaults). */
    sharing: sharingPolicySchema.default({}),
    quotas: quotaConfigSchema.optional(),
    /**
     * Load shedding (trust/admission.ts): past these, a call is refused at once with RESOURCE_EXHAUSTED
     * and `retry-after-ms` rather than queued. A gateway is one principal carrying every partner's
     * questions on one connection, so the defaults are sized for gateways, not for a single partner:
     */
    admission: admissionConfigSchema({
      /** 1,000: a gateway's one connection carries up to 64 CheckDevicesStreams, its change stream, and every screening's CheckDevices calls (4 per screening, up to its 100 screenings). */
      maxConcurrentStreamsPerConnection: 1_000,
      /** 4,000 across all connections: four gateways' connections at their full 1,000 each; past it every connection's share shrinks. */
      maxConcurrentStreams: 4_000,
      /** 4,000 unary calls being served: room for two gateways' worst case (below) at once. */
      maxInFlight: 4_000,
      /** 2,000: a gateway's worst case (its 100 screenings with 4 CheckDevices each, its batched lookups and sightings) several times over, for gateway processes sharing one principal. */
      maxInFlightPerPrincipal: 2_000,
      /** 2,000 open streams, every caller together. */
      maxStreams: 2_000,
      /** 500 for one principal: a gateway's 64 CheckDevicesStreams and one change stream per process, several processes under one principal id. */
      maxStreamsPerPrincipal: 500,
      /** 60 s: longer than a gateway keeps an unused CheckDevicesStream (it retires it after 30 to 40 s); watches are not affected (their callers send nothing by design). */
      streamIdleMs: 60_000,
      /** 100 ms: long enough for the calls in flight to finish, short enough that a gateway hardly notices a passing burst. */
      retryAfterMs: 100,
    }),
    tls: serverTlsSchema.optional(),
    /** Plaintext on a non-loopback address: an explicit operator decision. */
    allowInsecure: z.boolean().default(false),
    /** Caps on callers' connections, their preface deadline, idle time and keepalive (rpc/connection-guard.ts documents each default). */
    connections: connectionLimitsSchema.default({}),
    /**
     * Where the audit log goes; default: in the store's own database (the SQLite file, or the registry's
     * PostgreSQL schema), so a change and its entry commit in one transaction. Another database works through
     * the store's outbox: an entry a crash leaves between the two commits is appended at the next start.
     */
    audit: auditConfigSchema.optional(),
  })
  .strict()
  .transform((config) => ({ ...config, id: config.id ?? `registry-${config.country.toLowerCase()}` }));

/** The validated registry configuration. */
export type RegistryConfig = z.output<typeof registryConfigSchema>;
/** What a config file (or the CLI) may say, before defaults. */
export type RegistryConfigInput = z.input<typeof registryConfigSchema>;

/** Validates a config object; `baseDir` anchors relative paths. Throws INVALID_ARGUMENT naming the first bad field. */
export function parseRegistryConfig(input: unknown, baseDir = process.cwd(), source = "registry config"): RegistryConfig {
  const config = validateConfig(registryConfigSchema, input, source);
  const at = resolverFrom(baseDir);
  return {
    ...config,
    db: "sqlite" in config.db ? { sqlite: at(config.db.sqlite) } : config.db,
    ...(config.trustFile !== undefined ? { trustFile: at(config.trustFile) } : {}),
    ...(config.attestationKey !== undefined ? { attestationKey: at(config.attestationKey) } : {}),
    ...(config.tls
      ? { tls: { ...config.tls, cert: at(config.tls.cert), key: at(config.tls.key), ...(config.tls.ca !== undefined ? { ca: at(config.tls.ca) } : {}) } }
      : {}),
    ...(config.audit && "sqlite" in config.audit ? { audit: { sqlite: at(config.audit.sqlite) } } : {}),
  };
}

/** Reads and validates a JSON or YAML registry config file (YAML is a superset of JSON). */
export async function loadRegistryConfig(path: string): Promise<RegistryConfig> {
  const raw = await readConfigFile(path, "registry config");
  return parseRegistryConfig(raw, dirname(resolve(path)), path);
}
