/**
 * A principal's signing keys: generated as JWKs (the format the trust file and
 * jose both speak), with a `kid` so that verifiers can pick the right key while
 * several are published during a rotation.
 */
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import { Code, ImeifedError } from "../errors/index.js";

/** The only signature algorithms imeifed signs or accepts: `none` and HMAC are never among them. */
export const SIGNING_ALGORITHMS = ["ES256", "EdDSA"] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** A JSON Web Key Set (RFC 7517). */
export interface Jwks {
  keys: JWK[];
}

/** The output of `generatePrincipalKeys`: keep the private JWK secret, publish the JWKS. */
export interface PrincipalKeys {
  readonly privateJwk: JWK;
  readonly publicJwks: Jwks;
}

/** Tells whether a string is one of the accepted signature algorithms. */
export function isSigningAlgorithm(alg: unknown): alg is SigningAlgorithm {
  return typeof alg === "string" && (SIGNING_ALGORITHMS as readonly string[]).includes(alg);
}

/**
 * The algorithm a JWK signs with: its `alg` when set, otherwise the one its
 * curve implies (P-256 → ES256, Ed25519 → EdDSA). Undefined for anything else.
 */
export function algorithmOf(jwk: JWK): SigningAlgorithm | undefined {
  if (jwk.alg !== undefined) return isSigningAlgorithm(jwk.alg) ? jwk.alg : undefined;
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  return undefined;
}

/**
 * Generates a signing key pair for a principal. The `kid` is the principal id
 * plus a prefix of the key's RFC 7638 thumbprint, so it is unique per key and
 * still tells an operator whose key it is.
 */
export async function generatePrincipalKeys(id: string, alg: SigningAlgorithm = "ES256"): Promise<PrincipalKeys> {
  if (!isSigningAlgorithm(alg)) {
    throw new ImeifedError(Code.INVALID_ARGUMENT, "KEY_ALG_UNSUPPORTED", `algorithm ${JSON.stringify(alg)} is not supported; use ES256 or EdDSA`);
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
  const publicJwk = await exportJWK(publicKey);
  const kid = `${id}-${(await calculateJwkThumbprint(publicJwk)).slice(0, 16)}`;
  const meta = { kid, alg, use: "sig" };
  return {
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    publicJwks: { keys: [{ ...publicJwk, ...meta }] },
  };
}

/** Removes the private parts of a JWK, for publishing. */
export function publicJwkOf(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, k: _k, key_ops: _ops, ext: _ext, ...rest } = jwk;
  return rest;
}

/** The conventional file names of a principal's keys inside a key directory. */
export function keyFileNames(id: string): { privateJwk: string; jwks: string } {
  return { privateJwk: `${id}.private.jwk.json`, jwks: `${id}.jwks.json` };
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ImeifedError(Code.FAILED_PRECONDITION, "KEY_FILE_UNREADABLE", `cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ImeifedError(Code.FAILED_PRECONDITION, "KEY_FILE_INVALID", `${what} ${path} is not valid JSON`, { cause: error });
  }
}

/** Reads a private signing JWK (as written by `imeifed keys generate`), refusing a public-only or unsupported key. */
export async function readPrivateJwk(path: string): Promise<JWK> {
  const jwk = (await readJson(path, "private key file")) as JWK;
  if (typeof jwk !== "object" || jwk === null || typeof jwk.d !== "string") {
    throw new ImeifedError(Code.FAILED_PRECONDITION, "KEY_FILE_INVALID", `${path} is not a private JWK (no "d"); pass the <id>.private.jwk.json file`);
  }
  if (!algorithmOf(jwk)) {
    throw new ImeifedError(Code.FAILED_PRECONDITION, "KEY_ALG_UNSUPPORTED", `${path} holds a ${jwk.kty}/${jwk.crv ?? jwk.alg} key; only ES256 (P-256) and EdDSA (Ed25519) keys sign imeifed tokens`);
  }
  return jwk;
}

/** Reads a public JWKS file: `{ "keys": [...] }`. */
export async function readJwks(path: string): Promise<Jwks> {
  const jwks = (await readJson(path, "JWKS file")) as Jwks;
  if (typeof jwks !== "object" || jwks === null || !Array.isArray(jwks.keys)) {
    throw new ImeifedError(Code.FAILED_PRECONDITION, "KEY_FILE_INVALID", `${path} is not a JWKS (expected {"keys": [...]})`);
  }
  return jwks;
}

/** Writes a private JWK readable by its owner only. */
export async function writePrivateJwk(path: string, jwk: JWK): Promise<void> {
  await writeFile(path, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** Writes a public JWKS. */
export async function writeJwks(path: string, jwks: Jwks): Promise<void> {
  await writeFile(path, `${JSON.stringify(jwks, null, 2)}\n`);
}

/** Writes `<id>.private.jwk.json` and `<id>.jwks.json` into `dir`, returning their paths. */
export async function writePrincipalKeys(dir: string, id: string, keys: PrincipalKeys): Promise<{ privateJwk: string; jwks: string }> {
  const names = keyFileNames(id);
  const paths = { privateJwk: join(dir, names.privateJwk), jwks: join(dir, names.jwks) };
  await writePrivateJwk(paths.privateJwk, keys.privateJwk);
  await writeJwks(paths.jwks, keys.publicJwks);
  return paths;
}
