/**
 * The console's configuration (`imeifed console --config console.yaml`),
 * validated once at start: who the agency is (principal id and private key),
 * where the gateway is and how to reach it, where the page is served. In pilot
 * mode it names several principals and the participant picks one in the page.
 */
import { dirname } from "node:path";
import type { JWK } from "jose";
import { z } from "zod";
import { readConfigFile, resolverFrom, validateConfig } from "../../config/config-file.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { readPrivateJwk } from "../../trust/keys.js";
import { auditConfigSchema, type AuditConfig } from "../../trust/audit/index.js";
import { PRINCIPAL_KINDS, SCOPES, type PrincipalKind, type Scope } from "../../trust/principal.js";
import { clientTlsSchema, type ClientTlsConfig } from "../../trust/tls.js";
import type { SignInConfig } from "./sign-in.js";

const targetSchema = z.object({ address: z.string().min(1), id: z.string().min(1), tls: clientTlsSchema.optional() }).strict();

const principalSchema = z
  .object({
    id: z.string().min(1),
    name: z.string().min(1).optional(),
    kind: z.enum(PRINCIPAL_KINDS),
    country: z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 code such as ES"),
    /** The principal's private JWK file (written by `imeifed keys generate`). */
    key: z.string().min(1),
    /** The scopes its tokens ask for; default: what the console's pages use for its kind. */
    scopes: z.array(z.enum(SCOPES)).optional(),
    /** Its home registry when it differs from the console's (pilot mode: each police its own). */
    homeRegistry: targetSchema.optional(),
    /** Registry administrators: the registry's audit store, read (never written) by the audit page. */
    audit: auditConfigSchema.optional(),
  })
  .strict();

const consoleConfigSchema = z
  .object({
    /** host:port the page is served on; loopback needs no sign-in. */
    listen: z.string().min(1).default("127.0.0.1:8080"),
    gateway: z
      .object({
        address: z.string().min(1),
        /** The gateway's principal id: the audience of the tokens the console mints. */
        id: z.string().min(1).default("gateway"),
        tls: clientTlsSchema.optional(),
      })
      .strict(),
    /** For police: the home registry, where reports are made and cleared. */
    homeRegistry: targetSchema.optional(),
    /** The agency (one), or in pilot mode every principal a participant may act as; the first is the default. */
    principals: z.array(principalSchema).min(1),
    /** Pilot mode: the page offers every principal; never for a real agency. */
    pilot: z.boolean().default(false),
    /** Officers sign in with the agency's OpenID Connect provider; required on any address but loopback. */
    signIn: z
      .object({
        issuer: z.string().url(),
        clientId: z.string().min(1),
        clientSecret: z.string().min(1),
        /** This console's /auth/callback as registered with the provider. */
        redirectUri: z.string().url(),
        /** An http:// issuer: only for a provider on this machine (tests). */
        allowInsecureIssuer: z.boolean().default(false),
        sessionTtlSec: z.number().int().min(60).max(86_400).default(8 * 3600),
      })
      .strict()
      .optional(),
    /** Lifetime of the tokens the console mints (seconds). */
    tokenTtlSec: z.number().int().min(30).max(3600).default(300),
  })
  .strict()
  .refine((c) => c.pilot || c.principals.length === 1, { message: "a console acts for one agency; several principals need pilot: true", path: ["principals"] });

/** The scopes each kind's tokens ask for when the config names none. */
const DEFAULT_SCOPES: Partial<Record<PrincipalKind, readonly Scope[]>> = {
  police: ["devices:check", "devices:found", "devices:report", "devices:watch"],
  customs: ["devices:check", "devices:screen", "devices:found"],
  registry: ["devices:check"],
  admin: ["devices:check"],
};

/** One principal the console can act as, with its private key loaded. */
export interface ConsolePrincipal {
  readonly id: string;
  readonly name: string;
  readonly kind: PrincipalKind;
  readonly country: string;
  readonly privateJwk: JWK;
  readonly scopes: readonly Scope[];
  /** Where police report and clear their cases and watch their sightings. */
  readonly homeRegistry: ServiceTarget | undefined;
  /** The registry's audit store, for its administrators. */
  readonly audit: AuditConfig | undefined;
}

/** A reachable service: its address and TLS (insecure when absent). */
export interface ServiceTarget {
  readonly address: string;
  readonly id: string;
  readonly tls: ClientTlsConfig | undefined;
}

export interface ConsoleConfig {
  readonly listen: { host: string; port: number };
  readonly gateway: ServiceTarget;
  readonly principals: readonly ConsolePrincipal[];
  readonly pilot: boolean;
  readonly tokenTtlSec: number;
  /** Undefined: no sign-in (loopback only). */
  readonly signIn: SignInConfig | undefined;
}

export type ConsoleConfigInput = z.input<typeof consoleConfigSchema>;

/** `host:port` → parts; IPv6 in brackets. */
function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new ImeifedError(Code.INVALID_ARGUMENT, "BAD_ADDRESS", `listen: ${JSON.stringify(listen)} is not host:port, such as 127.0.0.1:8080`);
  return { host: (match[1] ?? match[2])!, port };
}

/** True for addresses only this machine can reach: there, the console needs no sign-in. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Validates an already-parsed config; paths are resolved against `baseDir`. */
export async function consoleConfigFrom(input: unknown, baseDir: string, source = "console config"): Promise<ConsoleConfig> {
  const raw = validateConfig(consoleConfigSchema, input, source);
  const at = resolverFrom(baseDir);
  const listen = parseListen(raw.listen);
  if (!isLoopback(listen.host) && !raw.signIn) {
    // Anyone who reaches the page acts as the agency: beyond this machine, officers must sign in.
    throw new ImeifedError(
      Code.FAILED_PRECONDITION,
      "INSECURE_LISTEN",
      `listen: ${raw.listen} is reachable from other machines, and this console has no sign-in configured; configure signIn (the agency's OpenID Connect provider) or listen on 127.0.0.1`,
    );
  }
  if (raw.signIn) {
    const redirect = new URL(raw.signIn.redirectUri);
    if (redirect.protocol !== "https:" && !isLoopback(redirect.hostname.replace(/^\[|\]$/g, ""))) {
      throw new ImeifedError(Code.INVALID_ARGUMENT, "BAD_CONFIG", `${source}: signIn.redirectUri: ${raw.signIn.redirectUri} must be https:// (the session cookie must not cross a network in clear)`);
    }
    if (redirect.pathname !== "/auth/callback") throw new ImeifedError(Code.INVALID_ARGUMENT, "BAD_CONFIG", `${source}: signIn.redirectUri: its path must be /auth/callback, where the console takes the provider's answer`);
    if (new URL(raw.signIn.issuer).protocol !== "https:" && !raw.signIn.allowInsecureIssuer) {
      throw new ImeifedError(Code.INVALID_ARGUMENT, "BAD_CONFIG", `${source}: signIn.issuer: ${raw.signIn.issuer} must be https:// (allowInsecureIssuer is for a provider on this machine only)`);
    }
  }
  const tlsOf = (tls: ClientTlsConfig | undefined) => (tls ? { ...tls, ...(tls.ca ? { ca: at(tls.ca) } : {}), ...(tls.cert ? { cert: at(tls.cert) } : {}), ...(tls.key ? { key: at(tls.key) } : {}) } : undefined);
  const homeRegistry = raw.homeRegistry ? { address: raw.homeRegistry.address, id: raw.homeRegistry.id, tls: tlsOf(raw.homeRegistry.tls) } : undefined;
  const principals = await Promise.all(
    raw.principals.map(async (p): Promise<ConsolePrincipal> => ({
      id: p.id,
      name: p.name ?? p.id,
      kind: p.kind,
      country: p.country,
      privateJwk: await readPrivateJwk(at(p.key)),
      scopes: p.scopes ?? DEFAULT_SCOPES[p.kind] ?? ["devices:check"],
      homeRegistry: p.homeRegistry ? { address: p.homeRegistry.address, id: p.homeRegistry.id, tls: tlsOf(p.homeRegistry.tls) } : homeRegistry,
      audit: p.audit && "sqlite" in p.audit ? { sqlite: at(p.audit.sqlite) } : p.audit,
    })),
  );
  const ids = new Set<string>();
  for (const p of principals) {
    if (ids.has(p.id)) throw new ImeifedError(Code.INVALID_ARGUMENT, "BAD_CONFIG", `${source}: principals: ${p.id} is named twice`);
    ids.add(p.id);
  }
  return {
    listen,
    gateway: { address: raw.gateway.address, id: raw.gateway.id, tls: tlsOf(raw.gateway.tls) },
    principals,
    pilot: raw.pilot,
    tokenTtlSec: raw.tokenTtlSec,
    signIn: raw.signIn,
  };
}

/** Reads and validates a console config file (JSON or YAML). */
export async function readConsoleConfig(path: string): Promise<ConsoleConfig> {
  return consoleConfigFrom(await readConfigFile(path, "console config"), dirname(path), path);
}
