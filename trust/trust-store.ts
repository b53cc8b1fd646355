/**
 * The trust store: every principal a server accepts calls from, with the
 * public keys its tokens must be signed with. Loaded once from the trust file
 * at start; `reload()` re-reads it (and the JWKS files it names) so that a
 * rotated-out key stops verifying without a restart.
 */
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { createRemoteJWKSet, errors as joseErrors, importJWK, type JWK, type JWTHeaderParameters } from "jose";
import { Code, ImeifedError, unauthenticated } from "../errors/index.js";
import type { Principal } from "./principal.js";
import { algorithmOf, readJwks, type SigningAlgorithm } from "./keys.js";
import { describeIssues, trustFileSchema, type PrincipalEntry } from "./trust-file-schema.js";

/** How JWKS URLs are fetched; the defaults follow jose's, with a shorter timeout for a call path. */
export interface TrustStoreOptions {
  /** Minimum time between two refetches caused by an unknown kid (default 30 s), so forged kids cannot flood the partner. */
  jwksCooldownMs?: number;
  /** How long a fetched JWKS is used before it is refetched (default 10 min). */
  jwksCacheMaxAgeMs?: number;
  /** Timeout of one JWKS fetch (default 5 s). */
  jwksTimeoutMs?: number;
}

type RemoteKeySet = ReturnType<typeof createRemoteJWKSet>;
type VerificationKey = Awaited<ReturnType<RemoteKeySet>>;

/** Where a principal's keys come from: imported keys by kid, or a remote JWKS. */
type KeySource =
  | { readonly type: "local"; readonly keys: ReadonlyMap<string, { key: VerificationKey; alg: SigningAlgorithm }> }
  | { readonly type: "remote"; readonly url: string; readonly keySet: RemoteKeySet };

interface Entry {
  readonly principal: Principal;
  readonly keys: KeySource;
}

function invalidTrust(message: string, cause?: unknown): ImeifedError {
  return new ImeifedError(Code.FAILED_PRECONDITION, "TRUST_FILE_INVALID", message, cause === undefined ? {} : { cause });
}

async function importLocalKeys(entry: PrincipalEntry, jwks: readonly JWK[], where: string): Promise<KeySource> {
  const keys = new Map<string, { key: VerificationKey; alg: SigningAlgorithm }>();
  for (const [i, jwk] of jwks.entries()) {
    const at = `${where}[${i}]`;
    if (typeof jwk.kid !== "string" || jwk.kid === "") throw invalidTrust(`${at}: every key needs a kid`);
    if (jwk.d !== undefined) throw invalidTrust(`${at}: key ${jwk.kid} is a private key; publish only public keys`);
    const alg = algorithmOf(jwk);
    if (!alg) throw invalidTrust(`${at}: key ${jwk.kid} is ${jwk.kty}/${jwk.crv ?? jwk.alg ?? "?"}; only ES256 (EC P-256) and EdDSA (Ed25519) keys are accepted`);
    if (keys.has(jwk.kid)) throw invalidTrust(`${at}: duplicate kid ${jwk.kid} for ${entry.id}`);
    try {
      keys.set(jwk.kid, { key: (await importJWK({ ...jwk, alg }, alg)) as VerificationKey, alg });
    } catch (error) {
      throw invalidTrust(`${at}: key ${jwk.kid} of ${entry.id} cannot be imported: ${(error as Error).message}`, error);
    }
  }
  return { type: "local", keys };
}

/** The principals a server trusts and their verification keys. */
export class TrustStore {
  #entries: ReadonlyMap<string, Entry>;
  #version = 0;
  readonly #reloadListeners = new Set<() => void>();

  private constructor(
    entries: ReadonlyMap<string, Entry>,
    private readonly source: { readonly path?: string; readonly obj?: unknown; readonly baseDir: string },
    private readonly options: TrustStoreOptions,
  ) {
    this.#entries = entries;
  }

  /** Loads a JSON or YAML trust file; paths inside it are relative to the file. */
  static async load(path: string, options: TrustStoreOptions = {}): Promise<TrustStore> {
    const absolute = resolve(path);
    const entries = await TrustStore.#build(await TrustStore.#readFile(absolute), dirname(absolute), options);
    return new TrustStore(entries, { path: absolute, baseDir: dirname(absolute) }, options);
  }

  /** Builds a store from an already parsed trust file; `baseDir` anchors relative JWKS paths. */
  static async fromObject(obj: unknown, baseDir: string, options: TrustStoreOptions = {}): Promise<TrustStore> {
    const entries = await TrustStore.#build(obj, resolve(baseDir), options);
    return new TrustStore(entries, { obj, baseDir: resolve(baseDir) }, options);
  }

  static async #readFile(path: string): Promise<unknown> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw invalidTrust(`cannot read trust file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, error);
    }
    try {
      // YAML is a superset of JSON, so one parser reads both forms.
      return parseYaml(text);
    } catch (error) {
      throw invalidTrust(`trust file ${path} is neither JSON nor YAML: ${(error as Error).message}`, error);
    }
  }

  static async #build(obj: unknown, baseDir: string, options: TrustStoreOptions): Promise<Map<string, Entry>> {
    const parsed = trustFileSchema.safeParse(obj);
    if (!parsed.success) throw invalidTrust(`trust file is invalid: ${describeIssues(parsed.error)}`);
    const entries = new Map<string, Entry>();
    for (const [i, entry] of parsed.data.principals.entries()) {
      const where = `principals[${i}] (${entry.id}).keys`;
      let keys: KeySource;
      if (entry.keys.jwksUrl !== undefined) {
        keys = {
          type: "remote",
          url: entry.keys.jwksUrl,
          keySet: createRemoteJWKSet(new URL(entry.keys.jwksUrl), {
            cooldownDuration: options.jwksCooldownMs ?? 30_000,
            cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
            timeoutDuration: options.jwksTimeoutMs ?? 5_000,
          }),
        };
      } else if (entry.keys.jwksFile !== undefined) {
        const file = isAbsolute(entry.keys.jwksFile) ? entry.keys.jwksFile : resolve(baseDir, entry.keys.jwksFile);
        let jwks;
        try {
          jwks = await readJwks(file);
        } catch (error) {
          throw invalidTrust(`${where}.jwksFile: ${(error as Error).message}`, error);
        }
        keys = await importLocalKeys(entry, jwks.keys, `${where}.jwksFile ${file} keys`);
      } else {
        keys = await importLocalKeys(entry, entry.keys.jwks as JWK[], `${where}.jwks`);
      }
      const principal: Principal = {
        id: entry.id,
        name: entry.name ?? entry.id,
        country: entry.country,
        kind: entry.kind,
        scopes: [...new Set(entry.scopes)],
        tacPrefixes: entry.tacPrefixes,
      };
      entries.set(entry.id, { principal, keys });
    }
    return entries;
  }

  /** The principal with this id, if it is trusted. */
  principal(id: string): Principal | undefined {
    return this.#entries.get(id)?.principal;
  }

  /** Every trusted principal. */
  principals(): Principal[] {
    return [...this.#entries.values()].map((e) => e.principal);
  }

  /** Bumped by every reload; caches of verified tokens compare it to forget tokens verified under the old keys. */
  get version(): number {
    return this.#version;
  }

  /**
   * Re-reads the trust file (or the object's JWKS files): added principals and
   * keys start verifying, removed ones stop. On error the old state stays.
   */
  async reload(): Promise<void> {
    const obj = this.source.path !== undefined ? await TrustStore.#readFile(this.source.path) : this.source.obj;
    this.#entries = await TrustStore.#build(obj, this.source.baseDir, this.options);
    this.#version += 1;
    for (const listener of this.#reloadListeners) listener();
  }

  /**
   * Calls `listener` after every successful reload (open streams check their
   * caller again: a revoked partner must not keep one open); returns the
   * function that stops it.
   */
  onReload(listener: () => void): () => void {
    this.#reloadListeners.add(listener);
    return () => this.#reloadListeners.delete(listener);
  }

  /**
   * The key that must have signed a token of `principalId` with this header.
   * Throws UNAUTHENTICATED `TOKEN_UNKNOWN_KID` for a kid the principal has not
   * published (a JWKS URL is refetched first, at most once per cooldown), and
   * UNAVAILABLE `KEYS_UNAVAILABLE` when the principal's JWKS URL cannot be fetched.
   */
  async verificationKey(principalId: string, header: JWTHeaderParameters): Promise<VerificationKey> {
    const entry = this.#entries.get(principalId);
    if (!entry) throw unauthenticated("TOKEN_UNKNOWN_ISSUER", `issuer ${principalId} is not a trusted principal of this server`);
    const kid = header.kid;
    if (entry.keys.type === "local") {
      const keys = entry.keys.keys;
      let found = kid === undefined ? undefined : keys.get(kid);
      if (kid === undefined) {
        const candidates = [...keys.values()].filter((k) => k.alg === header.alg);
        if (candidates.length !== 1) {
          throw unauthenticated("TOKEN_UNKNOWN_KID", `token header has no kid and ${principalId} has ${candidates.length} ${header.alg} keys; put the signing key's kid in the header`);
        }
        found = candidates[0];
      }
      if (!found) {
        throw unauthenticated("TOKEN_UNKNOWN_KID", `key id ${kid} is not among the published keys of ${principalId}; sign with a key listed in the trust file, or publish the new key there first`);
      }
      if (found.alg !== header.alg) {
        throw unauthenticated("TOKEN_KEY_MISMATCH", `key ${kid ?? ""} of ${principalId} is an ${found.alg} key but the token says ${header.alg}; sign with the key's own algorithm`);
      }
      return found.key;
    }
    try {
      return await entry.keys.keySet(header, { payload: "", signature: "" });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ERR_JWKS_NO_MATCHING_KEY" || code === "ERR_JWKS_MULTIPLE_MATCHING_KEYS") {
        throw unauthenticated(
          "TOKEN_UNKNOWN_KID",
          kid === undefined
            ? `token header has no kid and the JWKS of ${principalId} does not single out one ${header.alg} key; put the signing key's kid in the header`
            : `key id ${kid} is not in the JWKS of ${principalId} at ${entry.keys.url} (refetched); publish the new key there before signing with it`,
        );
      }
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError || (error as Error)?.name === "AbortError" || (error as Error)?.name === "TimeoutError") {
        throw new ImeifedError(Code.UNAVAILABLE, "KEYS_UNAVAILABLE", `the keys of ${principalId} could not be fetched from ${entry.keys.url}; retry later`, { cause: error, retryAfterMs: 5_000 });
      }
      throw error;
    }
  }
}
