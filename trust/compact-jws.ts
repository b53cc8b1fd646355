/**
 * Compact JWS signing (RFC 7515 §7.1) with node:crypto's synchronous `sign`,
 * for the attestations a registry signs on its check path.
 *
 * Why not jose's `SignJWT`: jose v6 signs through WebCrypto only, and on
 * Node 20 one ES256 `crypto.subtle.sign` costs several times the CPU of
 * `crypto.sign` over the same key (the curve arithmetic is the same OpenSSL
 * call; the rest is WebCrypto's own path). A registry signs every
 * listed device it shows fresh, in the middle of answering a batch, so that
 * difference was most of what a hit cost it. jose still does everything
 * else: importing and thumbprinting keys, publishing the JWKS, and every
 * verification (`jwtVerify` checks what this module writes, in the tests
 * and at every verifier).
 *
 * The output is an ordinary JWT: base64url(header) "." base64url(claims)
 * "." base64url(signature), with an ES256 signature in the JWS form (r || s,
 * 32 bytes each: `dsaEncoding: "ieee-p1363"`), an EdDSA one as Ed25519 makes it.
 */
import { KeyObject, sign } from "node:crypto";

/** The algorithms this module signs with (those attestations allow). */
export type CompactJwsAlgorithm = "ES256" | "EdDSA";

/** A private key ready to sign compact JWS objects with one algorithm. */
export class CompactJwsSigner {
  readonly #key: KeyObject;
  readonly #alg: CompactJwsAlgorithm;

  /** `key`: the private key as a WebCrypto CryptoKey (as jose's `importJWK` returns it) or a KeyObject. */
  constructor(key: CryptoKey | KeyObject, alg: CompactJwsAlgorithm) {
    this.#key = key instanceof KeyObject ? key : KeyObject.from(key);
    if (this.#key.type !== "private") throw new TypeError(`a JWS is signed with a private key, not a ${this.#key.type} one`);
    const expected = alg === "ES256" ? "ec" : "ed25519";
    if (this.#key.asymmetricKeyType !== expected) throw new TypeError(`${alg} signs with an ${expected} key, not ${this.#key.asymmetricKeyType}`);
    const curve = this.#key.asymmetricKeyDetails?.namedCurve;
    if (alg === "ES256" && curve !== "prime256v1") throw new TypeError(`ES256 signs with a P-256 key, not ${curve}`);
    this.#alg = alg;
  }

  /** The compact serialization of `payload` under the protected `header` (its `alg` is set here). */
  sign(header: Readonly<Record<string, unknown>> & { alg?: never }, payload: Readonly<Record<string, unknown>>): string {
    const signingInput = `${base64url(JSON.stringify({ alg: this.#alg, ...header }))}.${base64url(JSON.stringify(payload))}`;
    const data = Buffer.from(signingInput, "utf8");
    const signature = this.#alg === "ES256" ? sign("sha256", data, { key: this.#key, dsaEncoding: "ieee-p1363" }) : sign(null, data, this.#key);
    return `${signingInput}.${signature.toString("base64url")}`;
  }
}

function base64url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}
