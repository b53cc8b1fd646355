import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { SignJWT, base64url, exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK } from "jose";
import { Code } from "../../../errors/index.js";
import { DeviceStatus, FindingSchema, Reason } from "../../../gen/imeifed/v1/device_pb.js";
import {
  ATTESTATION_INVALID,
  ATTESTATION_TYPE,
  AttestationSigner,
  attestationStatementOf,
  verifyAttestation,
  type AttestationStatement,
} from "../../../trust/attestation.js";
import { rejection } from "../../support/rejections.js";

async function keyPair(alg: "ES256" | "EdDSA" | "RS256", kid: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateJwk: { ...(await exportJWK(privateKey)), kid, alg }, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

const statement: AttestationStatement = {
  device_key: "35693803123456",
  status: "PROHIBITED",
  reason: "STOLEN",
  verified: true,
  reported_at: "2025-03-01T10:15:00.000Z",
  registry: "GB",
};

const ISSUED = new Date("2025-03-02T08:00:00Z");
const iat = Math.floor(ISSUED.getTime() / 1000);

function b64json(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

describe("attestations", () => {
  let es: { privateJwk: JWK; publicJwk: JWK };
  let ed: { privateJwk: JWK; publicJwk: JWK };
  let signer: AttestationSigner;
  let jwks: JSONWebKeySet;
  let good: string;

  before(async () => {
    es = await keyPair("ES256", "registry-gb-att-1");
    ed = await keyPair("EdDSA", "registry-es-att-1");
    signer = await AttestationSigner.create({ issuer: "registry-gb", privateJwk: es.privateJwk });
    jwks = signer.publicJwks();
    good = await signer.sign({ ...statement, iat });
  });

  it("signs a compact JWS with kid and typ in the protected header and no exp", async () => {
    const [h, p, s] = good.split(".");
    assert.ok(h && p && s);
    const header = JSON.parse(Buffer.from(h, "base64url").toString());
    assert.deepEqual(header, { alg: "ES256", kid: "registry-gb-att-1", typ: ATTESTATION_TYPE });
    const payload = JSON.parse(Buffer.from(p, "base64url").toString());
    assert.equal(payload.exp, undefined);
    assert.equal(payload.iss, "registry-gb");
    assert.equal(payload.iat, iat);
  });

  it("publishes only public keys, with kid, alg and use", () => {
    assert.equal(jwks.keys.length, 1);
    const [key] = jwks.keys;
    assert.equal(key?.d, undefined);
    assert.equal(key?.kid, "registry-gb-att-1");
    assert.equal(key?.alg, "ES256");
    assert.equal(key?.use, "sig");
  });

  it("verifies offline with the JWKS and returns the claims, twenty years later too", async () => {
    for (const now of [ISSUED, new Date("2045-03-02T08:00:00Z")]) {
      const claims = await verifyAttestation(good, jwks, { now });
      assert.deepEqual(claims, { ...statement, iss: "registry-gb", iat });
    }
  });

  it("verifies EdDSA attestations and keeps the change-feed claims", async () => {
    const edSigner = await AttestationSigner.create({ issuer: "registry-es", privateJwk: ed.privateJwk });
    const token = await edSigner.sign({ ...statement, registry: "ES", status: "PERMITTED", change: "CLEARED", record_id: "r-17", seq: 42, iat });
    const claims = await verifyAttestation(token, edSigner.publicJwks(), { now: ISSUED });
    assert.equal(claims.change, "CLEARED");
    assert.equal(claims.record_id, "r-17");
    assert.equal(claims.seq, 42);
    assert.equal(claims.iss, "registry-es");
  });

  it("picks the right key from a JWKS holding several registries' keys", async () => {
    const both = { keys: [...jwks.keys, ed.publicJwk] };
    assert.equal((await verifyAttestation(good, both, { now: ISSUED })).registry, "GB");
  });

  it("keeps verifying attestations signed before a key rotation", async () => {
    const next = await keyPair("ES256", "registry-gb-att-2");
    const rotated = await AttestationSigner.create({ issuer: "registry-gb", privateJwk: next.privateJwk, retiredKeys: [es.publicJwk] });
    assert.deepEqual(rotated.publicJwks().keys.map((k) => k.kid), ["registry-gb-att-2", "registry-gb-att-1"]);
    await verifyAttestation(good, rotated.publicJwks(), { now: ISSUED });
    await verifyAttestation(await rotated.sign({ ...statement, iat }), rotated.publicJwks(), { now: ISSUED });
  });

  it("accepts an iat slightly ahead of the verifier's clock (skew) but not more", async () => {
    const ahead = await signer.sign({ ...statement, iat: iat + 30 });
    await verifyAttestation(ahead, jwks, { now: ISSUED });
    const far = await signer.sign({ ...statement, iat: iat + 3600 });
    const error = await rejection(verifyAttestation(far, jwks, { now: ISSUED }));
    assert.match(error.message, /iat 2025-03-02T09:00:00\.000Z is 3600 s in the future \(tolerance 60 s\)/);
    await verifyAttestation(far, jwks, { now: ISSUED, clockToleranceSec: 7200 });
  });

  describe("rejects, saying why", () => {
    const cases: Array<{ name: string; token: () => Promise<string>; keys?: () => Promise<JSONWebKeySet> | JSONWebKeySet; options?: { issuer?: string }; message: RegExp }> = [
      {
        name: "a tampered payload (status changed)",
        token: async () => {
          const [h, p, s] = good.split(".") as [string, string, string];
          const claims = JSON.parse(Buffer.from(p, "base64url").toString());
          return `${h}.${b64json({ ...claims, status: "PERMITTED" })}.${s}`;
        },
        message: /signature does not match: the attestation was altered after signing, or key registry-gb-att-1 did not sign it/,
      },
      {
        name: "a tampered signature",
        token: async () => {
          const [h, p, s] = good.split(".") as [string, string, string];
          const sig = Buffer.from(s, "base64url");
          sig[5] = sig[5]! ^ 0xff;
          return `${h}.${p}.${sig.toString("base64url")}`;
        },
        message: /signature does not match/,
      },
      {
        name: "a signature by another key under the same kid",
        token: async () => {
          const impostor = await keyPair("ES256", "registry-gb-att-1");
          return (await AttestationSigner.create({ issuer: "registry-gb", privateJwk: impostor.privateJwk })).sign({ ...statement, iat });
        },
        message: /signature does not match/,
      },
      {
        name: "a kid the JWKS does not hold",
        token: async () => (await AttestationSigner.create({ issuer: "registry-gb", privateJwk: (await keyPair("ES256", "unknown-kid")).privateJwk })).sign({ ...statement, iat }),
        message: /no key with kid unknown-kid in the JWKS \(it has registry-gb-att-1\)/,
      },
      {
        name: "alg none",
        token: async () => `${b64json({ alg: "none", typ: ATTESTATION_TYPE, kid: "registry-gb-att-1" })}.${b64json({ ...statement, iss: "registry-gb", iat })}.`,
        message: /alg "none": an unsigned attestation proves nothing/,
      },
      {
        name: "HMAC with the public key as the secret",
        token: async () =>
          new SignJWT({ ...statement })
            .setProtectedHeader({ alg: "HS256", typ: ATTESTATION_TYPE, kid: "registry-gb-att-1" })
            .setIssuer("registry-gb")
            .setIssuedAt(iat)
            .sign(new TextEncoder().encode(JSON.stringify(es.publicJwk))),
        message: /alg HS256 is HMAC/,
      },
      {
        name: "an algorithm outside the allow-list (RS256)",
        token: async () => {
          const rsa = await keyPair("RS256", "registry-gb-att-1");
          return new SignJWT({ ...statement }).setProtectedHeader({ alg: "RS256", typ: ATTESTATION_TYPE, kid: "registry-gb-att-1" }).setIssuedAt(iat).sign(await importJWK(rsa.privateJwk, "RS256"));
        },
        message: /alg RS256 is not allowed/,
      },
      {
        name: "a bearer token of the same key (wrong typ)",
        token: async () => {
          return new SignJWT({ scope: "devices:check" }).setProtectedHeader({ alg: "ES256", typ: "JWT", kid: "registry-gb-att-1" }).setIssuedAt(iat).setExpirationTime(iat + 300).sign(await importJWK(es.privateJwk, "ES256"));
        },
        message: /typ "JWT" is not imeifed-attestation\+jwt/,
      },
      {
        name: "no kid",
        token: async () => {
          return new SignJWT({ ...statement }).setProtectedHeader({ alg: "ES256", typ: ATTESTATION_TYPE }).setIssuer("registry-gb").setIssuedAt(iat).sign(await importJWK(es.privateJwk, "ES256"));
        },
        message: /no kid/,
      },
      {
        name: "a validly signed token missing a claim",
        token: async () => {
          const { device_key: _omit, ...rest } = statement;
          return new SignJWT(rest).setProtectedHeader({ alg: "ES256", typ: ATTESTATION_TYPE, kid: "registry-gb-att-1" }).setIssuer("registry-gb").setIssuedAt(iat).sign(await importJWK(es.privateJwk, "ES256"));
        },
        message: /claim device_key is missing/,
      },
      {
        name: "a validly signed token with a malformed device key",
        token: async () => {
          return new SignJWT({ ...statement, device_key: "123" }).setProtectedHeader({ alg: "ES256", typ: ATTESTATION_TYPE, kid: "registry-gb-att-1" }).setIssuer("registry-gb").setIssuedAt(iat).sign(await importJWK(es.privateJwk, "ES256"));
        },
        message: /claim device_key is invalid: must be the 14-digit device key/,
      },
      {
        name: "a JWKS key of another algorithm under the same kid",
        token: async () => good,
        keys: () => ({ keys: [{ ...ed.publicJwk, kid: "registry-gb-att-1" }] }),
        message: /the JWKS key registry-gb-att-1 is not a ES256 key/,
      },
      {
        name: "a JWKS that carries a private key",
        token: async () => good,
        keys: () => ({ keys: [es.privateJwk] }),
        message: /holds a private key/,
      },
      {
        name: "another issuer than expected",
        token: async () => good,
        options: { issuer: "registry-fr" },
        message: /iss registry-gb is not the expected issuer registry-fr/,
      },
      { name: "something that is not a JWS", token: async () => "not-a-token", message: /not a compact JWS/ },
      { name: "a header that is not JSON", token: async () => `${base64url.encode("{oops")}.e30.c2ln`, message: /protected header is not base64url-encoded JSON/ },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const keys = c.keys ? await c.keys() : jwks;
        const error = await rejection(verifyAttestation(await c.token(), keys, { now: ISSUED, ...c.options }));
        assert.equal(error.code, Code.INVALID_ARGUMENT);
        assert.equal(error.reason, ATTESTATION_INVALID);
        assert.match(error.message, /^attestation rejected: /);
        assert.match(error.message, c.message);
      });
    }
  });

  describe("signer", () => {
    it("refuses keys it must not sign with", async () => {
      const rsa = await keyPair("RS256", "r");
      await assert.rejects(AttestationSigner.create({ issuer: "registry-gb", privateJwk: rsa.privateJwk }), /only ES256 \(P-256\) and EdDSA \(Ed25519\)/);
      await assert.rejects(AttestationSigner.create({ issuer: "registry-gb", privateJwk: es.publicJwk }), /is a public key/);
      await assert.rejects(AttestationSigner.create({ issuer: "registry-gb", privateJwk: { ...es.privateJwk, alg: "HS256" } }), /only ES256/);
    });

    it("uses the key's thumbprint as kid when the JWK has none", async () => {
      const { kid: _kid, ...noKid } = es.privateJwk;
      const s = await AttestationSigner.create({ issuer: "registry-gb", privateJwk: noKid });
      assert.match(s.kid, /^[A-Za-z0-9_-]{43}$/);
      await verifyAttestation(await s.sign(statement), s.publicJwks());
    });

    it("refuses to sign for another issuer or malformed claims", async () => {
      await assert.rejects(signer.sign({ ...statement, iss: "registry-fr" }), /not this signer's issuer/);
      await assert.rejects(signer.sign({ ...statement, registry: "gb" }));
    });
  });

  it("builds the statement of a finding (enum names, RFC 3339 reported_at)", async () => {
    const finding = create(FindingSchema, {
      country: "GB",
      deviceKey: "35693803123456",
      status: DeviceStatus.TRACKED,
      reason: Reason.LOST,
      verified: false,
      reportedAt: timestampFromDate(new Date("2025-01-02T03:04:05.678Z")),
      reportingAgency: "police-gb",
    });
    const s = attestationStatementOf(finding, { change: "REPORTED", recordId: "r1", seq: 7n });
    assert.deepEqual(s, { device_key: "35693803123456", status: "TRACKED", reason: "LOST", verified: false, reported_at: "2025-01-02T03:04:05.678Z", registry: "GB", change: "REPORTED", record_id: "r1", seq: 7 });
    const claims = await verifyAttestation(await signer.sign(s), jwks);
    assert.equal(claims.status, "TRACKED");
  });
});
