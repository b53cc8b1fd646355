/**
 * A throw-away federation of principals for tests: fresh keys for each, a real
 * trust file on disk (loaded through TrustStore.load, as servers do), and
 * helpers to mint tokens and build authenticators. Every test that needs a
 * caller uses it instead of inventing keys.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JWK } from "jose";
import type { ServerInterceptor } from "../../rpc/index.js";
import { createAuthenticator, type AuthenticatorOptions, type MethodAccess } from "../../trust/authenticator.js";
import { generatePrincipalKeys, keyFileNames, writePrincipalKeys, type SigningAlgorithm } from "../../trust/keys.js";
import type { Actor, Principal, PrincipalKind, Scope } from "../../trust/principal.js";
import { mintToken, TokenMinter } from "../../trust/token-minter.js";
import { TrustStore, type TrustStoreOptions } from "../../trust/trust-store.js";

/** A principal of the test federation; scopes default by kind, alg to ES256. */
export interface TestPrincipal {
  id: string;
  kind: PrincipalKind;
  country: string;
  name?: string;
  scopes?: Scope[];
  tacPrefixes?: string[];
  alg?: SigningAlgorithm;
}

/** What each kind may hold unless a test says otherwise. */
export const DEFAULT_SCOPES_BY_KIND: Readonly<Record<PrincipalKind, readonly Scope[]>> = {
  police: ["devices:check", "devices:screen", "devices:report", "devices:watch", "devices:found"],
  customs: ["devices:check", "devices:screen", "devices:found"],
  manufacturer: ["devices:check", "devices:screen", "devices:watch"],
  registry: ["devices:check", "devices:watch", "devices:found"],
  gateway: ["devices:check", "devices:screen", "devices:watch", "devices:found"],
  pilot: ["devices:check"],
  admin: ["registry:admin", "devices:check", "devices:report", "devices:watch"],
  operator: ["n5g-eir-eic"],
};

/** The default federation: five police forces and their registries, customs, a manufacturer, the gateway and an admin. */
export const DEFAULT_TEST_PRINCIPALS: readonly TestPrincipal[] = [
  { id: "police-gb", kind: "police", country: "GB", name: "UK National Mobile Property Register (police)" },
  { id: "police-es", kind: "police", country: "ES", name: "Policía Nacional" },
  { id: "police-jp", kind: "police", country: "JP", name: "National Police Agency" },
  { id: "police-br", kind: "police", country: "BR", name: "Polícia Civil" },
  { id: "police-us", kind: "police", country: "US", name: "US police" },
  { id: "customs-gb", kind: "customs", country: "GB", name: "UK Border Force" },
  { id: "oem-demo", kind: "manufacturer", country: "FI", name: "Demo handset maker", tacPrefixes: ["35693803", "86"] },
  { id: "registry-gb", kind: "registry", country: "GB", name: "UK registry" },
  { id: "registry-es", kind: "registry", country: "ES", name: "Spanish registry" },
  { id: "registry-jp", kind: "registry", country: "JP", name: "Japanese registry" },
  { id: "registry-br", kind: "registry", country: "BR", name: "Brazilian registry" },
  { id: "registry-us", kind: "registry", country: "US", name: "US registry" },
  // ZZ: the gateway is international, not of one country (a user-assigned ISO code).
  { id: "gateway", kind: "gateway", country: "ZZ", name: "imeifed federation gateway" },
  { id: "admin-gb", kind: "admin", country: "GB", name: "UK registry administrator" },
];

export interface TokenOptions {
  audience: string;
  /** Default: every scope the principal may hold. */
  scopes?: readonly Scope[];
  act?: Actor;
  /** Default 300 s. */
  ttlSec?: number;
  /** Issue time (default now). */
  now?: Date;
  notBeforeSec?: number;
}

export interface TestTrust {
  readonly trust: TrustStore;
  /** The temp dir holding the keys and the trust file. */
  readonly dir: string;
  /** The trust file (JSON), for tests that start servers from config. */
  readonly trustFile: string;
  /** The principals as declared. */
  readonly principals: readonly Principal[];
  /** A fresh token signed by the principal's key. */
  token(principalId: string, options: TokenOptions): Promise<string>;
  /** A `createClient` metadata supplier that reuses a token (as real clients do). */
  metadataFor(principalId: string, audience: string, scopes?: readonly Scope[], act?: Actor): () => Promise<{ authorization: string }>;
  /** The principal's private signing key. */
  privateJwk(principalId: string): JWK;
  /** Path of the principal's private key file (`<id>.private.jwk.json`), for CLI tests. */
  privateKeyFile(principalId: string): string;
  /** An authentication interceptor for a server whose id is `audience`. */
  authenticator(audience: string, scopes: Readonly<Record<string, MethodAccess>>, options?: Partial<AuthenticatorOptions>): ServerInterceptor;
  /**
   * Rewrites the trust file through `edit` (given its parsed JSON) and reloads
   * the store, as an operator's SIGHUP would; resolves to a function that puts
   * the file back and reloads again.
   */
  editTrustFile(edit: (file: { principals: { id: string; scopes: string[] }[] }) => void): Promise<() => Promise<void>>;
  /** Removes the temp dir. */
  cleanup(): Promise<void>;
}

/** Creates keys and a trust file for `principals` (default: DEFAULT_TEST_PRINCIPALS) in a new temp dir. */
export async function createTestTrust(principals: readonly TestPrincipal[] = DEFAULT_TEST_PRINCIPALS, storeOptions: TrustStoreOptions = {}): Promise<TestTrust> {
  const dir = await mkdtemp(join(tmpdir(), "imeifed-trust-"));
  try {
    const privateJwks = new Map<string, JWK>();
    const entries = await Promise.all(
      principals.map(async (p) => {
        const keys = await generatePrincipalKeys(p.id, p.alg ?? "ES256");
        await writePrincipalKeys(dir, p.id, keys);
        privateJwks.set(p.id, keys.privateJwk);
        return {
          id: p.id,
          name: p.name ?? p.id,
          country: p.country,
          kind: p.kind,
          scopes: [...(p.scopes ?? DEFAULT_SCOPES_BY_KIND[p.kind])],
          tacPrefixes: p.tacPrefixes ?? [],
          keys: { jwksFile: keyFileNames(p.id).jwks },
        };
      }),
    );
    const trustFile = join(dir, "trust.json");
    await writeFile(trustFile, `${JSON.stringify({ principals: entries }, null, 2)}\n`);
    const trust = await TrustStore.load(trustFile, storeOptions);
    const minters = new Map<string, TokenMinter>();

    const privateJwk = (id: string): JWK => {
      const jwk = privateJwks.get(id);
      if (!jwk) throw new Error(`test trust has no principal ${id}`);
      return jwk;
    };
    const principal = (id: string): Principal => {
      const p = trust.principal(id);
      if (!p) throw new Error(`test trust has no principal ${id}`);
      return p;
    };

    return {
      trust,
      dir,
      trustFile,
      principals: trust.principals(),
      token: (id, options) =>
        mintToken({
          issuer: id,
          privateJwk: privateJwk(id),
          audience: options.audience,
          scopes: options.scopes ?? principal(id).scopes,
          ...(options.act ? { act: options.act } : {}),
          ...(options.ttlSec !== undefined ? { ttlSec: options.ttlSec } : {}),
          ...(options.now ? { now: options.now } : {}),
          ...(options.notBeforeSec !== undefined ? { notBeforeSec: options.notBeforeSec } : {}),
        }),
      metadataFor: (id, audience, scopes, act) => {
        let minter = minters.get(id);
        if (!minter) {
          minter = new TokenMinter({ issuer: id, privateJwk: privateJwk(id) });
          minters.set(id, minter);
        }
        return minter.metadata({ audience, scopes: scopes ?? principal(id).scopes, ...(act ? { act } : {}) });
      },
      privateJwk,
      privateKeyFile: (id) => {
        privateJwk(id);
        return join(dir, keyFileNames(id).privateJwk);
      },
      authenticator: (audience, scopes, options = {}) => createAuthenticator({ trust, audience, scopes, ...options }),
      async editTrustFile(edit) {
        const original = await readFile(trustFile, "utf8");
        const file = JSON.parse(original) as { principals: { id: string; scopes: string[] }[] };
        edit(file);
        await writeFile(trustFile, `${JSON.stringify(file, null, 2)}\n`);
        await trust.reload();
        return async () => {
          await writeFile(trustFile, original);
          await trust.reload();
        };
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
