/**
 * The gateway's configuration: validated once at start into a typed object, so
 * a wrong file fails before anything listens, with a message naming the field.
 * Relative paths in the file are resolved against the file's own directory.
 */
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { readConfigFile, resolverFrom, validateConfig } from "../config/config-file.js";
import { connectionLimitsSchema } from "../rpc/connection-guard.js";
import { admissionConfigSchema } from "../trust/admission.js";
import { auditConfigSchema } from "../trust/audit/index.js";
import { clientTlsSchema, serverTlsSchema } from "../trust/tls.js";
import { networksConfigSchema } from "../networks/networks-config.js";

const country = z
  .string()
  .regex(/^[A-Za-z]{2}$/, "must be an ISO 3166-1 alpha-2 code such as GB")
  .transform((c) => c.toUpperCase());

const address = z.string().regex(/^(\[[^\]]+\]|[^:\s]+):\d+$/, "must be host:port");

/** One upstream: a national registry, or another gateway standing where a registry stands (a regional hub). */
export const upstreamSchema = z
  .object({
    /** The country it answers for; for a gateway upstream, a label for the hub (e.g. "EU"). */
    country,
    /** `registry` is asked with CheckDevices and followed with WatchChanges; `gateway` is asked with Lookup. */
    kind: z.enum(["registry", "gateway"]).default("registry"),
    address,
    /** Its principal id: the audience of the tokens the gateway mints for it. */
    id: z.string().min(1),
    /** For a gateway upstream: the countries it federates (a Lookup naming one of them is routed there). */
    countries: z.array(country).default([]),
    /** TLS towards it: the CA to trust and, for mutual TLS, the gateway's client certificate. */
    tls: clientTlsSchema.optional(),
    /** The most devices one CheckDevices may carry; keep it at or below the registry's own limit (10,000 by default, which is also this default: see gateway/README.md). */
    batchLimit: z.number().int().min(1).max(100_000).default(10_000),
    /** Cap on one upstream call's deadline; defaults to deadlines.upstreamMaxMs. */
    timeoutMs: z.number().int().min(1).optional(),
    /** Channels to open to it; 1 unless measured to help (see bench/gateway.ts). */
    channels: z.number().int().min(1).max(16).default(1),
  })
  .strict();

export const gatewayConfigSchema = z
  .object({
    /** The gateway's principal id: `iss` of the tokens it mints, audience of the tokens it accepts. */
    id: z.string().min(1),
    listen: address,
    tls: serverTlsSchema.optional(),
    /** Plaintext on a non-loopback address: an explicit operator decision. */
    allowInsecure: z.boolean().default(false),
    /** Caps on partners' connections, their preface deadline, idle time and keepalive (rpc/connection-guard.ts documents each default). */
    connections: connectionLimitsSchema.default({}),
    trustFile: z.string().min(1),
    /** How callers' tokens are checked. */
    auth: z
      .object({
        /** The longest lifetime (exp - iat) a token may have. 1 hour by default; the pilot allows a day. */
        maxTokenLifetimeSec: z.number().int().min(60).max(7 * 86_400).default(3_600),
        /** Failed authentications tolerated per client address per minute before its new tokens are refused unchecked (0: no limit). */
        failuresPerAddressPerMinute: z.number().int().min(0).default(300),
      })
      .strict()
      .default({}),
    /** The gateway's private JWK file: its identity for upstream calls. */
    key: z.string().min(1),
    registries: z
      .array(upstreamSchema)
      .min(1, "name at least one registry")
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((r, i) => {
          if (seen.has(r.country)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, "country"], message: `${r.country} is listed twice` });
          seen.add(r.country);
        });
      }),
    deadlines: z
      .object({
        /** The longest any upstream call may take (also the budget when the caller sets no deadline). */
        upstreamMaxMs: z.number().int().min(1).default(2_000),
        /** Kept back from the caller's deadline so the answer leaves before it passes. */
        marginMs: z.number().int().min(0).default(50),
      })
      .strict()
      .default({}),
    cache: z
      .object({
        /** Devices held (each with the answers of every registry asked about it). */
        maxEntries: z.number().int().min(0).default(250_000),
        /** PROHIBITED / TRACKED answers: kept long, since WatchChanges keeps them true (also bounded by the registry's cache_max_age). */
        listedTtlMs: z.number().int().min(0).default(3_600_000),
        /** "Not listed" answers: kept briefly, so a flood of checks on one clean phone does not reach the registries. */
        unlistedTtlMs: z.number().int().min(0).default(5_000),
        /**
         * Devices whose "not listed" answers the compact clean-answer table holds (8 + 4 bytes a registry per
         * slot, at most 4/5 full: 80 MB at 2,000,000 with five registries); 0 turns it off (clean answers
         * then go to the LRU above, and screening keeps none). Served for `unlistedTtlMs`, kept true by WatchChanges.
         */
        cleanMaxEntries: z.number().int().min(0).default(2_000_000),
      })
      .strict()
      .default({}),
    breaker: z
      .object({
        /** Consecutive failed calls that open a registry's circuit. */
        failureThreshold: z.number().int().min(1).default(5),
        /** How long an open circuit fails fast before one probe call is let through. */
        coolDownMs: z.number().int().min(1).default(1_000),
      })
      .strict()
      .default({}),
    batching: z
      .object({
        /** Upstream calls in flight per registry before misses wait for a slot (and so gather into batches). */
        maxInFlight: z.number().int().min(1).default(1),
        /** The longest a miss waits for a batch to close when every slot is busy. */
        maxWaitMs: z.number().int().min(0).default(10),
      })
      .strict()
      .default({}),
    freshness: z
      .object({
        /** First and last delay between WatchChanges reconnect attempts (exponential backoff). */
        reconnectMinMs: z.number().int().min(1).default(100),
        reconnectMaxMs: z.number().int().min(1).default(2_000),
      })
      .strict()
      .default({}),
    /** The stolen feed, WatchStolen (gateway/stolen-feed/README.md): one shared follower per registry and manufacturer, and its bounds. */
    stolenFeed: z
      .object({
        /** Feeds one manufacturer may hold open on this gateway; more are refused at once (RESOURCE_EXHAUSTED). A consumer needs one, two for failover; 4 leaves room for a reconnection that overlaps a stream the gateway has not yet seen die. */
        maxStreamsPerPrincipal: z.number().int().min(1).default(4),
        /**
         * Events each shared follower (one per registry and manufacturer with an open feed) keeps in memory, and
         * the changes it reads back from the registry's head when it starts. A feed resuming from a cursor inside
         * the window is served from memory; one falling further behind than it is ended (RESOURCE_EXHAUSTED) and
         * resumes with its cursor. 1,000 events of ~2 KB each bound a follower near 2 MB.
         */
        replayWindow: z.number().int().min(1).max(100_000).default(1_000),
        /** Catch-up reads of one registry at a time (feeds resuming from before the window, or replaying a registry's history), each a WatchChanges stream of its own; more are refused at once (RESOURCE_EXHAUSTED, retry later). 4 keeps a reconnection wave from turning into one full log read per feed. */
        maxCatchUpsPerRegistry: z.number().int().min(1).default(4),
        /** How often a feed whose manufacturer had no event sends its moved cursor alone, so a consumer's saved cursor stays inside the window (0: only the opening cursor). */
        progressIntervalMs: z.number().int().min(0).default(30_000),
      })
      .strict()
      .default({}),
    /** Osmocom-format TAC CSV (make and model per TAC). */
    tacFile: z.string().optional(),
    /** Per-principal quotas (trust/quota.ts validates the inner shape). */
    quotas: z.unknown().optional(),
    /**
     * Load shedding (trust/admission.ts): past these, a call is refused at once with RESOURCE_EXHAUSTED
     * and `retry-after-ms` rather than queued behind others. Defaults and why:
     */
    admission: admissionConfigSchema({
      /** 100: the least RFC 9113 advises a server to allow, as grpc-go deployments and nginx set; a partner needing more opens another connection. */
      maxConcurrentStreamsPerConnection: 100,
      /**
       * 256 across all connections: one turn of the event loop starts at most this many calls (beyond one a
       * connection), which bounds how long any partner's call waits for its turn during a flood; 64 calls in
       * flight already keep the gateway's CPU busy, so more streams would add only waiting. Two connections
       * still get their full 100 each.
       */
      maxConcurrentStreams: 256,
      /** 256 unary calls being served, as many as the stream budget lets in: several times what the gateway has in flight at its full rate (a cache miss takes milliseconds). It binds when hundreds of connections each hold a call. */
      maxInFlight: 256,
      /** 100: a partner's flood leaves room for others at their limit; the heaviest normal client (64 in flight) is inside it. */
      maxInFlightPerPrincipal: 100,
      /** 100 open streams (Screen, WatchStolen): each screening keeps a few thousand devices upstream, so a hundred at once is what a gateway can carry. */
      maxStreams: 100,
      /** 20: a customs office screening several shipments at once, or a manufacturer's few watches. */
      maxStreamsPerPrincipal: 20,
      /** 60 s: a Screen whose caller sends nothing for a minute while the gateway waits has stalled, and ends with STREAM_IDLE. */
      streamIdleMs: 60_000,
      /** 100 ms: long enough for the calls in flight to finish, short enough that a partner hardly notices a passing burst. */
      retryAfterMs: 100,
    }),
    /** Where the gateway's hash-chained audit log lives: `{ sqlite: path }` or `{ postgres: url, schema? }`. */
    audit: auditConfigSchema.optional(),
    /** The fronts mobile networks ask through at attach, served in this process beside gRPC (networks/networks-config.ts). */
    networks: networksConfigSchema,
  })
  .strict();

/** The validated gateway configuration. */
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
/** One validated upstream entry. */
export type UpstreamConfig = z.infer<typeof upstreamSchema>;
/** What a config file may say (defaults not yet applied). */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;

/** Validates a config object; `baseDir` anchors relative paths. Throws INVALID_ARGUMENT naming the first bad field. */
export function parseGatewayConfig(input: unknown, baseDir = process.cwd(), source = "gateway config"): GatewayConfig {
  const config = validateConfig(gatewayConfigSchema, input, source);
  const at = resolverFrom(baseDir);
  const tlsAt = <T extends { ca?: string | undefined; cert?: string | undefined; key?: string | undefined }>(t: T): T => ({
    ...t,
    ...(t.ca !== undefined ? { ca: at(t.ca) } : {}),
    ...(t.cert !== undefined ? { cert: at(t.cert) } : {}),
    ...(t.key !== undefined ? { key: at(t.key) } : {}),
  });
  return {
    ...config,
    trustFile: at(config.trustFile),
    key: at(config.key),
    ...(config.tls ? { tls: tlsAt(config.tls) } : {}),
    ...(config.tacFile ? { tacFile: at(config.tacFile) } : {}),
    ...(config.audit && "sqlite" in config.audit ? { audit: { sqlite: at(config.audit.sqlite) } } : {}),
    registries: config.registries.map((r) => (r.tls ? { ...r, tls: tlsAt(r.tls) } : r)),
    networks: {
      ...config.networks,
      ...(config.networks.n5gEir?.tls ? { n5gEir: { ...config.networks.n5gEir, tls: tlsAt(config.networks.n5gEir.tls) } } : {}),
      ...(config.networks.s13?.tls ? { s13: { ...config.networks.s13, tls: tlsAt(config.networks.s13.tls) } } : {}),
    },
  };
}

/** Reads and validates a JSON or YAML gateway config file (YAML is a superset of JSON, so one parser reads both). */
export async function loadGatewayConfig(path: string): Promise<GatewayConfig> {
  const raw = await readConfigFile(path, "gateway config");
  return parseGatewayConfig(raw, dirname(resolve(path)), path);
}
