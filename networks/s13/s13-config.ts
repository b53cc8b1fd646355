/**
 * The S13 front's config section (`networks.s13` of the gateway's config):
 * where the Diameter peer listens, who it is, which peers may connect (each
 * an `operator` principal of the trust file), its bounds, and the operator
 * policy every front shares (../operator-policy.ts), plus S13's own answer
 * for a device no registry lists (`onUnknown`).
 *
 * ```yaml
 * networks:
 *   s13:
 *     listen: 0.0.0.0:3868
 *     tls: { cert: eir.pem, key: eir.key, ca: mme-ca.pem, requireClientCert: true }
 *     originHost: eir.imeifed.example
 *     originRealm: imeifed.example
 *     peers:
 *       - { originHost: mme1.epc.mnc001.mcc603.3gppnetwork.org, originRealm: epc.mnc001.mcc603.3gppnetwork.org, principal: operator-dz, from: [10.1.0.0/16] }
 *     budgetMs: 500
 *     onUnknown: WHITELISTED
 * ```
 */
import { z } from "zod";
import { serverTlsSchema } from "../../trust/tls.js";
import { frontPolicySchema } from "../operator-policy.js";
import { blockListOf } from "./peer-table.js";

const address = z.string().regex(/^(\[[^\]]+\]|[^:\s]+):\d+$/, "must be host:port");
/** An FQDN or realm in printable ASCII (RFC 6733 §4.3.1 DiameterIdentity). */
const diameterIdentity = z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, "must be an FQDN or realm such as mme1.epc.mnc001.mcc603.3gppnetwork.org");

/**
 * The answer for a device every registry answered about and none lists:
 * WHITELISTED (Equipment-Status 0), or Experimental-Result 5422
 * DIAMETER_ERROR_EQUIPMENT_UNKNOWN for operators that treat "not in any
 * list" differently from "allowed".
 */
export const ON_UNKNOWN = ["WHITELISTED", "EQUIPMENT_UNKNOWN"] as const;
export type OnUnknown = (typeof ON_UNKNOWN)[number];

const peerSchema = z
  .object({
    originHost: diameterIdentity,
    originRealm: diameterIdentity,
    /** The `operator` principal of the trust file this peer asks as. */
    principal: z.string().min(1),
    /** Addresses or CIDR blocks it may connect from; absent: any address (TLS client certificates are then the only address check). */
    from: z
      .array(z.string().min(1))
      .min(1)
      .superRefine((list, ctx) => {
        try {
          blockListOf(list);
        } catch (error) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: (error as Error).message });
        }
      })
      .optional(),
    /** This peer's own `onUnknown`; absent: the front's. */
    onUnknown: z.enum(ON_UNKNOWN).optional(),
  })
  .strict();

export const s13ConfigSchema = frontPolicySchema
  .extend({
    /** `host:port`; 3868 is Diameter's port (RFC 6733), port 0 picks a free one. */
    listen: address,
    /** TLS on the listening port (RFC 6733 §2.1 "TLS/TCP"); absent: plain TCP, as S13 inside an operator's core network usually runs (or over IPsec). */
    tls: serverTlsSchema.optional(),
    /** This EIR's Origin-Host and Origin-Realm, as its peers have it configured. */
    originHost: diameterIdentity,
    originRealm: diameterIdentity,
    peers: z
      .array(peerSchema)
      .min(1, "name at least one peer: Diameter carries no token, so an unlisted peer is refused")
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((p, i) => {
          const key = p.originHost.toLowerCase();
          if (seen.has(key)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, "originHost"], message: `${p.originHost} is listed twice` });
          seen.add(key);
        });
      }),
    onUnknown: z.enum(ON_UNKNOWN).default("WHITELISTED"),
    /** Product-Name in CEA. */
    productName: z.string().min(1).max(64).default("imeifed"),
    limits: z
      .object({
        /** Open connections; one more is closed at once. An MME keeps one or two per EIR, so 64 leaves room for a whole pool. */
        maxConnections: z.number().int().min(1).default(64),
        /** ME-Identity-Checks being answered on one connection; one more is answered 3004 DIAMETER_TOO_BUSY at once. */
        maxInFlightPerConnection: z.number().int().min(1).default(256),
        /** The largest message taken; a larger one closes its connection. An S13 request is a few hundred bytes; 16 KiB leaves room for Route-Records and Proxy-Info. */
        maxMessageBytes: z.number().int().min(256).max(0xff_ffff).default(16_384),
        /** Silence after which a DWR is sent, and after a second such silence the connection closed (RFC 3539's Tw: 30 s). */
        watchdogMs: z.number().int().min(100).default(30_000),
        /** How long a new connection may take to send its CER. */
        capabilitiesTimeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .default({}),
  })
  .strict();

/** The validated `networks.s13` section. */
export type S13Config = z.output<typeof s13ConfigSchema>;
export type S13ConfigInput = z.input<typeof s13ConfigSchema>;
