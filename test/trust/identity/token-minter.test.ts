import assert from "node:assert/strict";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { Code } from "../../../errors/index.js";
import { generatePrincipalKeys, type PrincipalKeys } from "../../../trust/keys.js";
import { TokenMinter } from "../../../trust/token-minter.js";
import { TokenVerifier } from "../../../trust/token-verifier.js";
import { createTestTrust, type TestTrust } from "../../support/trust-fixture.js";

describe("token minter", () => {
  let fixture: TestTrust;
  let gatewayKeys: PrincipalKeys;
  let clock = Date.parse("2030-06-01T12:00:00Z");
  const now = () => clock;

  before(async () => {
    fixture = await createTestTrust();
    gatewayKeys = { privateJwk: fixture.privateJwk("gateway"), publicJwks: { keys: [] } };
  });
  after(() => fixture?.cleanup());

  const minter = (ttlSec = 300) => new TokenMinter({ issuer: "gateway", privateJwk: gatewayKeys.privateJwk, ttlSec, now });
  const request = { audience: "registry-es", scopes: ["devices:check"] as const, act: { id: "customs-gb", kind: "customs", country: "GB" } as const };

  it("mints a token the registry verifies, naming the real requester in act", async () => {
    const token = await minter().token({ ...request, scopes: [...request.scopes] });
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, "ES256");
    assert.equal(header.kid, gatewayKeys.privateJwk.kid);
    const claims = decodeJwt(token);
    assert.equal(claims.iss, "gateway");
    assert.equal(claims.sub, "gateway");
    assert.equal(claims.aud, "registry-es");
    assert.equal(claims.scope, "devices:check");
    assert.deepEqual(claims.act, { sub: "customs-gb", kind: "customs", country: "GB" });
    assert.equal(claims.exp! - claims.iat!, 300);
    const caller = await new TokenVerifier({ trust: fixture.trust, audience: "registry-es", now }).verify(token);
    assert.equal(caller.principal.id, "gateway");
    assert.deepEqual(caller.actor, { id: "customs-gb", kind: "customs", country: "GB" });
    assert.deepEqual([...caller.scopes], ["devices:check"]);
  });

  it("reuses one token per audience, scopes and actor until it nears expiry, and signs once for concurrent callers", async () => {
    const m = minter(300);
    const req = { ...request, scopes: [...request.scopes] };
    const [a, b] = await Promise.all([m.token(req), m.token(req)]);
    assert.equal(a, b);
    clock += 200_000; // two thirds of the lifetime: still fresh
    assert.equal(await m.token(req), a);
    assert.notEqual(await m.token({ ...req, audience: "registry-gb" }), a);
    assert.notEqual(await m.token({ ...req, act: { id: "police-us", kind: "police", country: "US" } }), a);
    assert.notEqual(await m.token({ ...req, scopes: ["devices:check", "devices:found"] }), a);
    assert.equal(await m.token({ ...req, scopes: ["devices:check", "devices:check"] }), a);
    clock += 41_000; // past 80 % of the lifetime: renewed before it can expire in flight
    const renewed = await m.token(req);
    assert.notEqual(renewed, a);
    assert.equal(decodeJwt(renewed).iat, Math.floor(clock / 1000));
  });

  it("supplies authorization metadata for createClient", async () => {
    const metadata = await minter().metadata({ audience: "registry-es", scopes: ["devices:check"] })();
    assert.match(metadata.authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it("refuses a public key, which cannot sign", async () => {
    const keys = await generatePrincipalKeys("gateway");
    assert.throws(
      () => new TokenMinter({ issuer: "gateway", privateJwk: keys.publicJwks.keys[0]! }),
      (error: { code: Code; reason: string }) => error.code === Code.FAILED_PRECONDITION && error.reason === "KEY_INVALID",
    );
  });
});
