/**
 * The shape of a trust file (JSON or YAML), validated once when a server
 * starts so that a typo in a partner's entry stops the server with a message
 * naming the entry, instead of refusing that partner's calls later.
 *
 * ```yaml
 * principals:
 *   - id: police-es
 *     name: Policía Nacional
 *     country: ES
 *     kind: police
 *     scopes: [devices:check, devices:report]
 *     keys: { jwksFile: keys/police-es.jwks.json }   # or { jwks: [ {kty: EC, ...} ] } or { jwksUrl: https://... }
 *   - id: operator-hk                                # a mobile network asking at attach (networks/)
 *     country: HK
 *     kind: operator
 *     scopes: [n5g-eir-eic]
 *     keys: { jwksFile: keys/operator-hk.jwks.json }
 * ```
 */
import { z } from "zod";
import { PRINCIPAL_KINDS, SCOPES } from "./principal.js";
import { isLoopbackHost } from "../rpc/host.js";

const publicJwkSchema = z
  .object({
    kty: z.string(),
    kid: z.string().min(1, "every key needs a kid, so tokens can name the key that signed them"),
    crv: z.string().optional(),
    alg: z.string().optional(),
    d: z.undefined({ invalid_type_error: "this is a private key (it has \"d\"); put only public keys in a trust file" }).optional(),
  })
  .passthrough();

const jwksUrlSchema = z
  .string()
  .url()
  .refine((text) => {
    const url = new URL(text);
    return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
  }, "a JWKS URL must be https (plain http only on a loopback address)");

const keysSchema = z
  .object({
    /** A JWKS file, relative to the trust file. */
    jwksFile: z.string().min(1).optional(),
    /** Inline public JWKs: a list, or a JWKS object. */
    jwks: z
      .preprocess((v) => (typeof v === "object" && v !== null && !Array.isArray(v) && "keys" in v ? (v as { keys: unknown }).keys : v), z.array(publicJwkSchema))
      .optional(),
    /** A JWKS URL, fetched and cached; an unknown kid triggers a (rate-limited) refetch, so rotation works. */
    jwksUrl: jwksUrlSchema.optional(),
  })
  .strict()
  .refine((keys) => [keys.jwksFile, keys.jwks, keys.jwksUrl].filter((k) => k !== undefined).length === 1, "give exactly one of jwksFile, jwks or jwksUrl");

const principalEntrySchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "ids are lower-case letters, digits, '.', '_' or '-' (for example police-es)"),
    name: z.string().min(1).optional(),
    country: z.string().regex(/^[A-Z]{2}$/, "country is an ISO 3166-1 alpha-2 code such as ES"),
    kind: z.enum(PRINCIPAL_KINDS),
    scopes: z.array(z.enum(SCOPES)).default([]),
    tacPrefixes: z.array(z.string().regex(/^\d{1,8}$/, "a TAC prefix is 1 to 8 digits")).default([]),
    keys: keysSchema,
  })
  .strict();

/** The validated trust file. */
export const trustFileSchema = z
  .object({
    principals: z.array(principalEntrySchema),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.principals.forEach((p, i) => {
      if (seen.has(p.id)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["principals", i, "id"], message: `duplicate principal id ${p.id}` });
      seen.add(p.id);
    });
  });

export type TrustFile = z.infer<typeof trustFileSchema>;
export type TrustFileInput = z.input<typeof trustFileSchema>;
export type PrincipalEntry = z.infer<typeof principalEntrySchema>;

/** Renders zod issues as `principals[3].keys: give exactly one of ...` lines. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
      return `${path || "(root)"}: ${issue.message}`;
    })
    .join("; ");
}
