/**
 * The N5g-eir front's config section (`networks.n5gEir` of the gateway's
 * config): where it listens, its TLS, its connection bounds, and the
 * operator policy every front shares (../operator-policy.ts).
 *
 * ```yaml
 * networks:
 *   n5gEir:
 *     listen: 0.0.0.0:8090
 *     tls: { cert: eir.pem, key: eir.key }   # ALPN h2 and http/1.1; absent: h2c prior knowledge and HTTP/1.1
 *     budgetMs: 500
 *     onUnanswered: WHITELISTED
 *     onInvalidImei: GREYLISTED
 *     sightingWindow: 1h
 *     operators: { operator-hk: { budgetMs: 300 } }
 * ```
 */
import { z } from "zod";
import { connectionLimitsSchema } from "../../rpc/connection-guard.js";
import { serverTlsSchema } from "../../trust/tls.js";
import { frontPolicySchema } from "../operator-policy.js";

const address = z.string().regex(/^(\[[^\]]+\]|[^:\s]+):\d+$/, "must be host:port");

export const n5gEirConfigSchema = frontPolicySchema
  .extend({
    /** `host:port`; port 0 picks a free port. */
    listen: address,
    /** TLS with ALPN h2 and http/1.1; absent: cleartext HTTP/2 with prior knowledge and HTTP/1.1 on the same port. */
    tls: serverTlsSchema.optional(),
    /** Plaintext on a non-loopback address: an explicit operator decision (5G cores inside one operator's core network often speak h2c). */
    allowInsecure: z.boolean().default(false),
    /** Caps on connections, the preface deadline and idle time (rpc/connection-guard.ts documents each default). */
    connections: connectionLimitsSchema.default({}),
    /** HTTP/2 streams one connection may have open at once (its SETTINGS_MAX_CONCURRENT_STREAMS); default 100, the least RFC 9113 advises. */
    maxConcurrentStreamsPerConnection: z.number().int().min(1).max(2 ** 31 - 1).default(100),
  })
  .strict();

/** The validated `networks.n5gEir` section. */
export type N5gEirConfig = z.output<typeof n5gEirConfigSchema>;
