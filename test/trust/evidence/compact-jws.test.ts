import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { SignJWT, compactVerify, decodeProtectedHeader, generateKeyPair, jwtVerify } from "jose";
import { CompactJwsSigner } from "../../../trust/compact-jws.js";

describe("compact JWS signing (node:crypto, checked by jose)", () => {
  for (const alg of ["ES256", "EdDSA"] as const) {
    it(`${alg}: jose's jwtVerify accepts what it signs, header and claims as given`, async () => {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const jws = new CompactJwsSigner(privateKey, alg);
      const token = jws.sign({ kid: "k-1", typ: "imeifed-attestation+jwt" }, { device_key: "35693803123456", note: "ünïcode", iss: "registry-gb", iat: 1_700_000_000 });
      assert.deepEqual(decodeProtectedHeader(token), { alg, kid: "k-1", typ: "imeifed-attestation+jwt" });
      const { payload, protectedHeader } = await jwtVerify(token, publicKey, { algorithms: [alg], typ: "imeifed-attestation+jwt", issuer: "registry-gb" });
      assert.equal(protectedHeader.alg, alg);
      assert.deepEqual(payload, { device_key: "35693803123456", note: "ünïcode", iss: "registry-gb", iat: 1_700_000_000 });
    });

    it(`${alg}: a changed payload no longer verifies`, async () => {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const [header, , signature] = new CompactJwsSigner(privateKey, alg).sign({}, { status: "PROHIBITED" }).split(".");
      const forged = `${header}.${Buffer.from(JSON.stringify({ status: "PERMITTED" })).toString("base64url")}.${signature}`;
      await assert.rejects(compactVerify(forged, publicKey), /signature verification failed/);
    });
  }

  it("EdDSA: the same bytes as jose's SignJWT (Ed25519 signatures are deterministic)", async () => {
    const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
    const claims = { device_key: "35693803123456", iss: "registry-es", iat: 1_700_000_000 };
    const ours = new CompactJwsSigner(privateKey, "EdDSA").sign({ kid: "k", typ: "x" }, claims);
    const theirs = await new SignJWT({ device_key: claims.device_key }).setProtectedHeader({ alg: "EdDSA", kid: "k", typ: "x" }).setIssuer(claims.iss).setIssuedAt(claims.iat).sign(privateKey);
    assert.equal(ours, theirs);
  });

  it("refuses a public key, and a key of the other algorithm", async () => {
    const es = await generateKeyPair("ES256", { extractable: true });
    assert.throws(() => new CompactJwsSigner(es.publicKey, "ES256"), /private key, not a public one/);
    assert.throws(() => new CompactJwsSigner(es.privateKey, "EdDSA"), /EdDSA signs with an ed25519 key, not ec/);
    const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    assert.throws(() => new CompactJwsSigner(p384.privateKey, "ES256"), /ES256 signs with a P-256 key, not secp384r1/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    assert.throws(() => new CompactJwsSigner(rsa.privateKey, "ES256"), /ES256 signs with an ec key, not rsa/);
  });
});
