/**
 * Attestations: a registry's signed statement that, at a given time, it listed
 * a device as PROHIBITED or TRACKED (or cleared it). Customs keep them as
 * evidence and a court may check one years later, offline, with nothing but
 * the registry's published JWKS.
 *
 * Format: a JWT (compact JWS) signed with jose's `SignJWT` and checked with
 * `jwtVerify`. A JWT rather than a bare `CompactSign` payload because the claims
 * are a JSON object anyway and `jwtVerify` gives us the `typ` check, the
 * algorithm allow-list and key selection by `kid` from a local JWKS for free.
 * The header carries `typ: imeifed-attestation+jwt` so that a bearer token
 * signed by the same party can never be passed off as an attestation (RFC 8725
 * §3.11, explicit typing).
 *
 * There is no `exp`: an attestation states a fact at a time (`iat`); it does not
 * expire. `iat` is only checked not to lie in the future beyond a small skew.
 */
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, errors, importJWK, jwtVerify, type JSONWebKeySet, type JWK } from "jose";
import { z } from "zod";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ImeifedError } from "../errors/index.js";
import { DeviceStatus, Reason, type Finding } from "../gen/imeifed/v1/device_pb.js";
import { CompactJwsSigner } from "./compact-jws.js";

/** The `typ` header of every attestation. */
export const ATTESTATION_TYPE = "imeifed-attestation+jwt";
/** The only algorithms an attestation may be signed with: `none` and HMAC never. */
export const ATTESTATION_ALGORITHMS = ["ES256", "EdDSA"] as const;
/** The error reason of every verification failure. */
export const ATTESTATION_INVALID = "ATTESTATION_INVALID";
/** Default tolerance for an `iat` ahead of the verifier's clock (seconds). */
export const DEFAULT_CLOCK_TOLERANCE_SEC = 60;

type AttestationAlgorithm = (typeof ATTESTATION_ALGORITHMS)[number];

const attestationClaimsSchema = z
  .object({
    device_key: z.string().regex(/^\d{14}$/, "must be the 14-digit device key"),
    status: z.enum(["PROHIBITED", "TRACKED", "PERMITTED"]),
    reason: z.string(),
    verified: z.boolean(),
    reported_at: z.string().datetime({ offset: true, message: "must be an RFC 3339 date-time" }),
    registry: z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 country code"),
    iss: z.string().min(1),
    iat: z.number().int().nonnegative(),
    change: z.enum(["REPORTED", "CLEARED"]).optional(),
    record_id: z.string().optional(),
    seq: z.number().int().nonnegative().optional(),
  })
  // Claims added by later versions are kept, so an old verifier still shows them.
  .passthrough();

/**
 * What a registry attests. `reported_at` is RFC 3339 (readable in court
 * without tools); `iat` is epoch seconds (JWT NumericDate); `registry` is the
 * registry's country; `change`, `record_id` and `seq` are set on the change feed.
 */
export type AttestationClaims = z.infer<typeof attestationClaimsSchema>;

/** What `sign` takes: the signer fills in `iss` (its own id) and `iat` (now) unless given. */
export type AttestationStatement = Omit<AttestationClaims, "iss" | "iat"> & { iss?: string; iat?: number };

/**
 * The statement for a finding as the registry holds it (before its sharing
 * policy), so every caller of `sign` maps enums and timestamps the same way.
 */
export function attestationStatementOf(
  finding: Finding,
  extra: { change?: "REPORTED" | "CLEARED"; recordId?: string; seq?: number | bigint; status?: DeviceStatus } = {},
): AttestationStatement {
  const status = extra.status ?? finding.status;
  if (status !== DeviceStatus.PROHIBITED && status !== DeviceStatus.TRACKED && status !== DeviceStatus.PERMITTED) {
    throw new Error(`cannot attest a finding with status ${DeviceStatus[status] ?? status}`);
  }
  if (!finding.reportedAt) throw new Error("cannot attest a finding without reported_at");
  return {
    device_key: finding.deviceKey,
    status: DeviceStatus[status] as AttestationClaims["status"],
    reason: Reason[finding.reason] ?? "UNSPECIFIED",
    verified: finding.verified,
    reported_at: timestampDate(finding.reportedAt).toISOString(),
    registry: finding.country,
    ...(extra.change !== undefined ? { change: extra.change } : {}),
    ...(extra.recordId !== undefined ? { record_id: extra.recordId } : {}),
    ...(extra.seq !== undefined ? { seq: Number(extra.seq) } : {}),
  };
}

/** The signing algorithm a JWK implies: its `alg`, else its curve. */
function algorithmOf(jwk: JWK): AttestationAlgorithm | undefined {
  const byCurve = jwk.kty === "EC" && jwk.crv === "P-256" ? "ES256" : jwk.kty === "OKP" && jwk.crv === "Ed25519" ? "EdDSA" : undefined;
  if (jwk.alg !== undefined) return jwk.alg === byCurve ? byCurve : undefined;
  return byCurve;
}

/** A JWK without its private parts, for publishing. */
function publicPartOf(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, k: _k, key_ops: _ops, ext: _ext, ...rest } = jwk;
  return rest;
}

function invalid(message: string, cause?: unknown): ImeifedError {
  return new ImeifedError(Code.INVALID_ARGUMENT, ATTESTATION_INVALID, `attestation rejected: ${message}`, cause === undefined ? {} : { cause });
}

/** Signs a registry's findings and changes with its attestation key. */
export class AttestationSigner {
  private constructor(
    /** The registry's principal id, put in `iss`. */
    readonly issuer: string,
    readonly kid: string,
    readonly alg: AttestationAlgorithm,
    private readonly jws: CompactJwsSigner,
    private readonly jwks: JSONWebKeySet,
  ) {}

  /**
   * Loads the private JWK (ES256 on P-256 or EdDSA on Ed25519). A key without
   * `kid` gets its RFC 7638 thumbprint as kid. `retiredKeys` are earlier public
   * keys kept in `publicJwks()` so attestations signed before a rotation still verify.
   */
  static async create(options: { issuer: string; privateJwk: JWK; retiredKeys?: readonly JWK[] }): Promise<AttestationSigner> {
    const { issuer, privateJwk } = options;
    if (!issuer) throw new ImeifedError(Code.FAILED_PRECONDITION, "ATTESTATION_KEY_INVALID", "an attestation signer needs an issuer (the registry's principal id)");
    const alg = algorithmOf(privateJwk);
    if (!alg) {
      throw new ImeifedError(
        Code.FAILED_PRECONDITION,
        "ATTESTATION_KEY_INVALID",
        `the attestation key is ${privateJwk.kty}/${privateJwk.crv ?? "?"}${privateJwk.alg ? ` alg ${privateJwk.alg}` : ""}; only ES256 (P-256) and EdDSA (Ed25519) keys sign attestations`,
      );
    }
    if (typeof privateJwk.d !== "string") throw new ImeifedError(Code.FAILED_PRECONDITION, "ATTESTATION_KEY_INVALID", "the attestation key is a public key (no \"d\"); pass the private JWK");
    const publicJwk = publicPartOf(privateJwk);
    const kid = privateJwk.kid ?? (await calculateJwkThumbprint(publicJwk));
    const key = await importJWK({ ...privateJwk, kid }, alg);
    if (key instanceof Uint8Array) throw new ImeifedError(Code.FAILED_PRECONDITION, "ATTESTATION_KEY_INVALID", "the attestation key is a secret key; pass an ES256 or EdDSA private JWK");
    const published: JWK[] = [{ ...publicJwk, kid, alg, use: "sig" }];
    for (const retired of options.retiredKeys ?? []) {
      if (retired.kid === undefined || retired.kid === kid) continue;
      published.push(publicPartOf(retired));
    }
    return new AttestationSigner(issuer, kid, alg, new CompactJwsSigner(key, alg), { keys: published });
  }

  /** Signs one statement as a compact JWS with `kid` and `typ` in the protected header. */
  async sign(statement: AttestationStatement): Promise<string> {
    if (statement.iss !== undefined && statement.iss !== this.issuer) {
      throw new Error(`attestation iss ${statement.iss} is not this signer's issuer ${this.issuer}`);
    }
    const claims = attestationClaimsSchema.parse({ ...statement, iss: this.issuer, iat: statement.iat ?? Math.floor(Date.now() / 1000) });
    // The claims as SignJWT lays them out (the statement, then iss and iat), signed synchronously.
    const { iss, iat, ...rest } = claims;
    return this.jws.sign({ kid: this.kid, typ: ATTESTATION_TYPE }, { ...rest, iss, iat });
  }

  /** The public keys that verify this signer's attestations (served by GetKeys and written as a JWKS file). */
  publicJwks(): JSONWebKeySet {
    return { keys: this.jwks.keys.map((k) => ({ ...k })) };
  }
}

/** Options of `verifyAttestation`. */
export interface VerifyAttestationOptions {
  /** The verifier's clock; defaults to now. */
  now?: Date;
  /** How far `iat` may lie ahead of `now` (seconds); default 60. */
  clockToleranceSec?: number;
  /** When set, `iss` must equal it (a JWKS may hold several registries' keys). */
  issuer?: string;
}

function describeKids(jwks: JSONWebKeySet): string {
  const kids = jwks.keys.map((k) => k.kid).filter((k): k is string => typeof k === "string");
  return kids.length === 0 ? "it has no keys with a kid" : `it has ${kids.join(", ")}`;
}

/**
 * Checks an attestation offline against a JWKS and returns its claims; throws
 * ImeifedError reason ATTESTATION_INVALID saying exactly what is wrong.
 */
export async function verifyAttestation(jws: string, jwks: JSONWebKeySet, options: VerifyAttestationOptions = {}): Promise<AttestationClaims> {
  if (typeof jws !== "string" || jws.trim().split(".").length !== 3) {
    throw invalid("not a compact JWS (expected three base64url parts separated by dots)");
  }
  const token = jws.trim();
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch (error) {
    throw invalid("the protected header is not base64url-encoded JSON", error);
  }
  const alg = header.alg;
  if (alg === undefined || alg === "none" || alg === "None" || alg === "NONE") {
    throw invalid(`alg ${JSON.stringify(alg ?? null)}: an unsigned attestation proves nothing; it must be signed with ES256 or EdDSA`);
  }
  if (/^HS\d+$/i.test(alg)) {
    throw invalid(`alg ${alg} is HMAC (a shared secret, which anyone holding the public key could forge); attestations must be signed with ES256 or EdDSA`);
  }
  if (!(ATTESTATION_ALGORITHMS as readonly string[]).includes(alg)) {
    throw invalid(`alg ${alg} is not allowed; attestations are signed with ES256 or EdDSA`);
  }
  if (header.typ !== ATTESTATION_TYPE) {
    throw invalid(`typ ${JSON.stringify(header.typ ?? null)} is not ${ATTESTATION_TYPE}: this JWS is not an imeifed attestation`);
  }
  if (typeof header.kid !== "string" || header.kid === "") {
    throw invalid("the protected header has no kid, so no key can be chosen to check it");
  }
  if (!jwks || !Array.isArray(jwks.keys)) throw invalid('the JWKS is not {"keys": [...]}');
  const candidates = jwks.keys.filter((k) => k.kid === header.kid);
  if (candidates.length === 0) {
    throw invalid(`no key with kid ${header.kid} in the JWKS (${describeKids(jwks)}); get the issuing registry's current JWKS`);
  }
  if (!candidates.some((k) => algorithmOf(k) === alg)) {
    throw invalid(`the JWKS key ${header.kid} is not a ${alg} key, but the attestation claims alg ${alg}`);
  }
  if (candidates.some((k) => typeof k.d === "string")) {
    throw invalid(`the JWKS key ${header.kid} holds a private key; publish and use public keys only`);
  }

  const now = options.now ?? new Date();
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, createLocalJWKSet(jwks), { algorithms: [...ATTESTATION_ALGORITHMS], typ: ATTESTATION_TYPE, currentDate: now }));
  } catch (error) {
    throw describeJoseFailure(error, header.kid);
  }

  const parsed = attestationClaimsSchema.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join(".") || "claims";
    throw invalid(`claim ${where} ${issue.message === "Required" ? "is missing" : `is invalid: ${issue.message}`}`);
  }
  const claims = parsed.data;
  const tolerance = options.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
  const nowSec = Math.floor(now.getTime() / 1000);
  if (claims.iat > nowSec + tolerance) {
    throw invalid(`iat ${new Date(claims.iat * 1000).toISOString()} is ${claims.iat - nowSec} s in the future (tolerance ${tolerance} s); the signer's clock is wrong or the claims were forged`);
  }
  if (options.issuer !== undefined && claims.iss !== options.issuer) {
    throw invalid(`iss ${claims.iss} is not the expected issuer ${options.issuer}`);
  }
  return claims;
}

/** Turns a jose failure into a message a customs officer or a court clerk can act on. */
function describeJoseFailure(error: unknown, kid: string): ImeifedError {
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalid(`the signature does not match: the attestation was altered after signing, or key ${kid} did not sign it`, error);
  }
  if (error instanceof errors.JWTExpired) return invalid(`it carries an exp that has passed (${error.message})`, error);
  if (error instanceof errors.JWTClaimValidationFailed) return invalid(`claim ${error.claim} failed: ${error.reason}`, error);
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return invalid(`malformed: ${error.message}`, error);
  if (error instanceof errors.JOSEAlgNotAllowed) return invalid(error.message, error);
  if (error instanceof errors.JWKSNoMatchingKey) return invalid(`no usable key ${kid} in the JWKS`, error);
  if (error instanceof errors.JWKSMultipleMatchingKeys) return invalid(`the JWKS holds several keys with kid ${kid}`, error);
  if (error instanceof errors.JOSEError) return invalid(error.message, error);
  return invalid(`cannot be checked: ${(error as Error)?.message ?? String(error)}`, error);
}
