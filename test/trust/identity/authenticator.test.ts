import assert from "node:assert/strict";
import { Client as GrpcClient, credentials, Metadata } from "@grpc/grpc-js";
import { base64url, decodeJwt, SignJWT } from "jose";
import { RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { Code } from "../../../errors/index.js";
import { createClient, type RunningHost } from "../../../rpc/index.js";
import { generatePrincipalKeys, publicJwkOf } from "../../../trust/keys.js";
import { mintToken } from "../../../trust/token-minter.js";
import { createTestTrust, type TestTrust } from "../../support/trust-fixture.js";
import { ECHO_SCOPES, echoed, startEchoRegistry } from "./echo-registry.js";
import { refused } from "./refused.js";

// The server's clock is frozen so that expiry messages are exact.
const T0 = Date.parse("2030-01-01T00:00:00Z");

describe("authentication interceptor (real sockets)", () => {
  let fixture: TestTrust;
  let clock = T0;
  let registryGb: RunningHost;
  let registryEs: RunningHost;
  let gb: ReturnType<typeof createClient<typeof RegistryService>>;
  let es: ReturnType<typeof createClient<typeof RegistryService>>;

  const at = (deltaSec: number) => new Date(T0 + deltaSec * 1000);
  const bearer = (token: string) => ({ metadata: { authorization: `Bearer ${token}` } });
  const checkGb = (token: string) => gb.checkDevice({ imei: "490154203237518" }, bearer(token));

  before(async () => {
    fixture = await createTestTrust();
    const now = () => clock;
    registryGb = await startEchoRegistry({
      interceptors: [fixture.authenticator("registry-gb", { ...ECHO_SCOPES }, { now, kinds: { ReportDevice: ["police", "admin"] } })],
    });
    registryEs = await startEchoRegistry({ interceptors: [fixture.authenticator("registry-es", { ...ECHO_SCOPES }, { now })] });
    gb = createClient(RegistryService, registryGb.address);
    es = createClient(RegistryService, registryEs.address);
  });
  after(async () => {
    gb?.close();
    es?.close();
    await registryGb?.shutdown();
    await registryEs?.shutdown();
    await fixture?.cleanup();
  });
  beforeEach(() => {
    clock = T0;
  });

  describe("admits", () => {
    it("a valid token and hands the handler the verified caller and its scopes", async () => {
      const token = await fixture.token("police-es", { audience: "registry-gb", scopes: ["devices:check", "devices:report"], now: at(0) });
      const answer = await checkGb(token);
      assert.deepEqual(echoed(answer.check?.finding?.reportingAgency), {
        principal: "police-es",
        kind: "police",
        actor: null,
        scopes: ["devices:check", "devices:report"],
      });
    });

    it("an EdDSA-signed token", async () => {
      const edFixture = await createTestTrust([{ id: "police-jp", kind: "police", country: "JP", alg: "EdDSA" }]);
      const host = await startEchoRegistry({ interceptors: [edFixture.authenticator("registry-jp", { ...ECHO_SCOPES })] });
      const client = createClient(RegistryService, host.address, { metadata: edFixture.metadataFor("police-jp", "registry-jp") });
      try {
        assert.equal(edFixture.privateJwk("police-jp").crv, "Ed25519");
        const answer = await client.checkDevice({ imei: "490154203237518" });
        assert.equal(echoed(answer.check?.finding?.reportingAgency).principal, "police-jp");
      } finally {
        client.close();
        await host.shutdown();
        await edFixture.cleanup();
      }
    });

    it("the gateway calling on a partner's behalf: the act claim becomes the caller's actor", async () => {
      const token = await fixture.token("gateway", {
        audience: "registry-gb",
        scopes: ["devices:check"],
        act: { id: "customs-gb", kind: "customs", country: "GB" },
        now: at(0),
      });
      const caller = echoed((await checkGb(token)).check?.finding?.reportingAgency);
      assert.equal(caller.principal, "gateway");
      assert.deepEqual(caller.actor, { id: "customs-gb", kind: "customs", country: "GB" });
    });

    it("a token that expired less than the clock tolerance ago (30 s)", async () => {
      const token = await fixture.token("police-gb", { audience: "registry-gb", ttlSec: 60, now: at(-80) });
      await checkGb(token);
    });

    it("a public method without any token, and names no caller", async () => {
      const answer = await gb.getKeys({});
      assert.equal(echoed(answer.jwksJson).principal, null);
    });

    it("health checks without a token (health is not behind the authenticator)", async () => {
      const grpcClient = new GrpcClient(registryGb.address, credentials.createInsecure());
      try {
        // grpc.health.v1.HealthCheckRequest { service: "" } is the empty message; SERVING is field 1 = 1.
        const status = await new Promise<Buffer>((resolve, reject) =>
          grpcClient.makeUnaryRequest("/grpc.health.v1.Health/Check", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), new Metadata(), (e, r) => (e ? reject(e) : resolve(r!))),
        );
        assert.deepEqual([...status], [0x08, 0x01]);
      } finally {
        grpcClient.close();
      }
    });

    it("a public method with a token, and names its caller", async () => {
      const token = await fixture.token("police-br", { audience: "registry-gb", now: at(0) });
      assert.equal(echoed((await gb.getKeys({}, bearer(token))).jwksJson).principal, "police-br");
    });
  });

  describe("answers UNAUTHENTICATED for", () => {
    it("a call without an authorization header", async () => {
      await refused(gb.checkDevice({ imei: "490154203237518" }), Code.UNAUTHENTICATED, "TOKEN_MISSING", 'send "authorization: Bearer <token>"');
    });

    it("a header that is not Bearer, or a token that is not a JWT", async () => {
      await refused(gb.checkDevice({ imei: "1" }, { metadata: { authorization: "Basic cG9saWNlOnB3" } }), Code.UNAUTHENTICATED, "TOKEN_MALFORMED", "Bearer <token>");
      await refused(checkGb("not-a-jwt"), Code.UNAUTHENTICATED, "TOKEN_MALFORMED", "not a compact JWT");
      await refused(checkGb("e30.e30.AAAA"), Code.UNAUTHENTICATED, "TOKEN_ALG_REFUSED");
    });

    it("an expired token, saying when it expired", async () => {
      const token = await fixture.token("police-es", { audience: "registry-gb", ttlSec: 300, now: at(-3600) });
      await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_EXPIRED", "token expired at 2029-12-31T23:05:00.000Z; mint a new one");
    });

    it("a token that is not yet valid (nbf in the future)", async () => {
      const token = await fixture.token("police-es", { audience: "registry-gb", now: at(0), notBeforeSec: 120, ttlSec: 600 });
      await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_NOT_YET_VALID", "not valid before 2030-01-01T00:02:00.000Z");
    });

    it("a token issued in the future (beyond the clock tolerance)", async () => {
      const token = await fixture.token("police-es", { audience: "registry-gb", now: at(600) });
      await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_ISSUED_IN_FUTURE", "check the signer's clock");
    });

    it("a token living longer than an hour", async () => {
      const token = await fixture.token("police-es", { audience: "registry-gb", now: at(0), ttlSec: 2 * 3600 });
      await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_LIFETIME_TOO_LONG", "the maximum is 3600 s");
    });

    it("a token for another audience", async () => {
      const token = await fixture.token("police-es", { audience: "registry-es", now: at(0) });
      await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_WRONG_AUDIENCE", "audience is registry-es but this server is registry-gb");
    });

    it("a gateway token for registry-es replayed against registry-gb", async () => {
      const token = await fixture.token("gateway", {
        audience: "registry-es",
        scopes: ["devices:check"],
        act: { id: "police-us", kind: "police", country: "US" },
        now: at(0),
      });
      assert.equal(echoed((await es.checkDevice({ imei: "490154203237518" }, bearer(token))).check?.finding?.reportingAgency).principal, "gateway");
      await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_WRONG_AUDIENCE", "audience is registry-es but this server is registry-gb");
    });

    it("an issuer that is not in the trust file", async () => {
      const stranger = await generatePrincipalKeys("police-xx");
      const token = await mintToken({ issuer: "police-xx", privateJwk: stranger.privateJwk, audience: "registry-gb", scopes: ["devices:check"], now: at(0) });
      await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_UNKNOWN_ISSUER", "issuer police-xx is not a trusted principal");
    });

    it("a key id the issuer has not published", async () => {
      const rogue = await generatePrincipalKeys("police-es");
      const token = await mintToken({ issuer: "police-es", privateJwk: rogue.privateJwk, audience: "registry-gb", scopes: ["devices:check"], now: at(0) });
      await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_UNKNOWN_KID", `key id ${rogue.privateJwk.kid} is not among the published keys of police-es`);
    });

    it("a token signed by another key under the issuer's real kid", async () => {
      const rogue = await generatePrincipalKeys("police-es");
      const privateJwk = { ...rogue.privateJwk, kid: fixture.privateJwk("police-es").kid };
      const token = await mintToken({ issuer: "police-es", privateJwk, audience: "registry-gb", scopes: ["devices:check"], now: at(0) });
      await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_BAD_SIGNATURE", "the token was altered or signed with another key");
    });

    it("a tampered signature, and a tampered payload, even after the genuine token was admitted", async () => {
      const token = await fixture.token("police-es", { audience: "registry-gb", scopes: ["devices:check"], now: at(0) });
      await checkGb(token); // now in the verified-token cache
      const [header, payload, signature] = token.split(".") as [string, string, string];
      const flipped = `${signature.slice(0, 10)}${signature[10] === "A" ? "B" : "A"}${signature.slice(11)}`;
      await refused(checkGb(`${header}.${payload}.${flipped}`), Code.UNAUTHENTICATED, "TOKEN_BAD_SIGNATURE");
      const claims = decodeJwt(token);
      const widened = base64url.encode(JSON.stringify({ ...claims, scope: "devices:check devices:report" }));
      await refused(checkGb(`${header}.${widened}.${signature}`), Code.UNAUTHENTICATED, "TOKEN_BAD_SIGNATURE");
    });

    it("alg none", async () => {
      const claims = decodeJwt(await fixture.token("police-es", { audience: "registry-gb", now: at(0) }));
      const unsigned = `${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${base64url.encode(JSON.stringify(claims))}.`;
      await refused(checkGb(unsigned), Code.UNAUTHENTICATED, "TOKEN_ALG_REFUSED", 'token algorithm "none" is not accepted; sign with ES256 or EdDSA');
    });

    it("HS256 signed with the issuer's public key as the HMAC secret", async () => {
      const publicJwk = publicJwkOf(fixture.privateJwk("police-es"));
      for (const secret of [JSON.stringify(publicJwk), String(publicJwk.x)]) {
        const token = await new SignJWT({ scope: "devices:check" })
          .setProtectedHeader({ alg: "HS256", kid: publicJwk.kid! })
          .setIssuer("police-es")
          .setAudience("registry-gb")
          .setIssuedAt(at(0))
          .setExpirationTime(at(300))
          .sign(new TextEncoder().encode(secret));
        await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_ALG_REFUSED", 'token algorithm "HS256" is not accepted');
      }
    });

    it("a token whose sub is not its issuer", async () => {
      const token = await new SignJWT({ scope: "devices:check" })
        .setProtectedHeader({ alg: "ES256", kid: fixture.privateJwk("police-es").kid! })
        .setIssuer("police-es")
        .setSubject("police-gb")
        .setAudience("registry-gb")
        .setIssuedAt(at(0))
        .setExpirationTime(at(300))
        .sign(await importPrivate("police-es"));
      await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_SUBJECT_MISMATCH");
    });

    it("a token without exp", async () => {
      const token = await new SignJWT({ scope: "devices:check" })
        .setProtectedHeader({ alg: "ES256", kid: fixture.privateJwk("police-es").kid! })
        .setIssuer("police-es")
        .setAudience("registry-gb")
        .setIssuedAt(at(0))
        .sign(await importPrivate("police-es"));
      await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_CLAIM_MISSING", "no exp claim");
    });

    it("a cached token once it expires", async () => {
      const token = await fixture.token("police-es", { audience: "registry-gb", ttlSec: 60, now: at(0) });
      await checkGb(token);
      clock = T0 + 95_000;
      await refused(checkGb(token), Code.UNAUTHENTICATED, "TOKEN_EXPIRED", "token expired at 2030-01-01T00:01:00.000Z");
    });
  });

  describe("answers PERMISSION_DENIED for", () => {
    it("a valid token without the method's scope", async () => {
      const token = await fixture.token("police-es", { audience: "registry-gb", scopes: ["devices:check"], now: at(0) });
      await refused(gb.reportDevice({}, bearer(token)), Code.PERMISSION_DENIED, "SCOPE_REQUIRED", "scope devices:report is required for ReportDevice");
    });

    it("a token asking for a scope its principal may not hold", async () => {
      const token = await fixture.token("customs-gb", { audience: "registry-gb", scopes: ["devices:check", "devices:report"], now: at(0) });
      await refused(checkGb(token), Code.PERMISSION_DENIED, "SCOPE_NOT_GRANTED", "token asks for scope devices:report, which customs-gb may not hold");
    });

    it("a principal of the wrong kind for the method", async () => {
      const token = await fixture.token("gateway", { audience: "registry-gb", scopes: ["devices:check"], now: at(0) });
      const gbWithReport = await createTestTrust([{ id: "gateway", kind: "gateway", country: "ZZ", scopes: ["devices:report"] }]);
      const host = await startEchoRegistry({
        interceptors: [gbWithReport.authenticator("registry-gb", { ...ECHO_SCOPES }, { kinds: { ReportDevice: ["police", "admin"] } })],
      });
      const client = createClient(RegistryService, host.address, { metadata: gbWithReport.metadataFor("gateway", "registry-gb") });
      try {
        await refused(client.reportDevice({}), Code.PERMISSION_DENIED, "PRINCIPAL_KIND_REFUSED", "ReportDevice is for police or admin principals; gateway is a gateway");
      } finally {
        client.close();
        await host.shutdown();
        await gbWithReport.cleanup();
      }
      // The gateway of the shared fixture may hold devices:check but not devices:report.
      await refused(gb.reportDevice({}, bearer(token)), Code.PERMISSION_DENIED, "SCOPE_REQUIRED");
    });

    it("an act claim from a principal that may not delegate", async () => {
      const token = await fixture.token("police-es", { audience: "registry-gb", act: { id: "police-gb", kind: "police", country: "GB" }, now: at(0) });
      await refused(checkGb(token), Code.PERMISSION_DENIED, "ACT_NOT_ALLOWED", "police-es is a police and may not call on someone's behalf");
    });

    it("an act claim from a registry: only gateways call on someone's behalf", async () => {
      const token = await fixture.token("registry-es", { audience: "registry-gb", act: { id: "police-gb", kind: "police", country: "GB" }, now: at(0) });
      await refused(checkGb(token), Code.PERMISSION_DENIED, "ACT_NOT_ALLOWED", "registry-es is a registry and may not call on someone's behalf");
    });

    it("an act claim that names a known requester as another kind or country", async () => {
      const promoted = await fixture.token("gateway", { audience: "registry-gb", act: { id: "customs-gb", kind: "police", country: "GB" }, now: at(0) });
      await refused(checkGb(promoted), Code.PERMISSION_DENIED, "ACT_MISMATCH", "act names customs-gb as police of GB, but the trust file has customs of GB");
      const moved = await fixture.token("gateway", { audience: "registry-gb", act: { id: "police-es", kind: "police", country: "GB" }, now: at(0) });
      await refused(checkGb(moved), Code.PERMISSION_DENIED, "ACT_MISMATCH");
    });

    it("a method the server's scope table leaves out", async () => {
      const token = await fixture.token("police-es", { audience: "registry-gb", now: at(0) });
      await refused(gb.checkDevices({ imeis: [] }, bearer(token)), Code.PERMISSION_DENIED, "METHOD_NOT_OPEN");
    });
  });

  async function importPrivate(id: string) {
    const { importJWK } = await import("jose");
    return importJWK(fixture.privateJwk(id), "ES256");
  }
});
