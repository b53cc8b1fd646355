import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair, exportJWK } from "jose";
import { Code } from "../../../errors/index.js";
import { generatePrincipalKeys, writeJwks, type PrincipalKeys } from "../../../trust/keys.js";
import { TrustStore } from "../../../trust/trust-store.js";
import { refused } from "./refused.js";

describe("trust store", () => {
  let dir: string;
  let es: PrincipalKeys;
  let oem: PrincipalKeys;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "imeifed-truststore-"));
    [es, oem] = await Promise.all([generatePrincipalKeys("police-es"), generatePrincipalKeys("oem-demo", "EdDSA")]);
    await writeJwks(join(dir, "police-es.jwks.json"), es.publicJwks);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const entry = (over: Record<string, unknown> = {}) => ({
    id: "police-es",
    country: "ES",
    kind: "police",
    scopes: ["devices:check"],
    keys: { jwksFile: "police-es.jwks.json" },
    ...over,
  });
  const invalid = (obj: unknown, message: string) => refused(TrustStore.fromObject(obj, dir), Code.FAILED_PRECONDITION, "TRUST_FILE_INVALID", message);

  it("loads a YAML trust file with a JWKS file (relative to the trust file) and inline JWKs", async () => {
    const yaml = [
      "principals:",
      "  - id: police-es",
      "    name: Policía Nacional",
      "    country: ES",
      "    kind: police",
      "    scopes: [devices:check, devices:report]",
      "    keys: { jwksFile: police-es.jwks.json }",
      "  - id: oem-demo",
      "    country: FI",
      "    kind: manufacturer",
      "    scopes: [devices:watch]",
      '    tacPrefixes: ["35693803", "86"]',
      "    keys:",
      `      jwks: ${JSON.stringify(oem.publicJwks.keys)}`,
      "",
    ].join("\n");
    await writeFile(join(dir, "trust.yaml"), yaml);
    const trust = await TrustStore.load(join(dir, "trust.yaml"));
    assert.deepEqual(trust.principal("police-es"), {
      id: "police-es",
      name: "Policía Nacional",
      country: "ES",
      kind: "police",
      scopes: ["devices:check", "devices:report"],
      tacPrefixes: [],
    });
    assert.equal(trust.principal("oem-demo")?.name, "oem-demo");
    assert.deepEqual(trust.principal("oem-demo")?.tacPrefixes, ["35693803", "86"]);
    assert.deepEqual(trust.principals().map((p) => p.id), ["police-es", "oem-demo"]);
    assert.equal(trust.principal("police-xx"), undefined);
  });

  it("loads a JSON trust file", async () => {
    await writeFile(join(dir, "trust.json"), JSON.stringify({ principals: [entry()] }));
    const trust = await TrustStore.load(join(dir, "trust.json"));
    assert.equal(trust.principal("police-es")?.country, "ES");
  });

  describe("refuses to start with", () => {
    it("a private key in the trust file", async () => {
      await invalid({ principals: [entry({ keys: { jwks: [es.privateJwk] } })] }, "private key");
    });

    it("a key that is neither ES256 nor EdDSA (RSA)", async () => {
      const { publicKey } = await generateKeyPair("RS256", { extractable: true });
      await invalid({ principals: [entry({ keys: { jwks: [{ ...(await exportJWK(publicKey)), kid: "rsa-1" }] } })] }, "only ES256 (EC P-256) and EdDSA (Ed25519) keys are accepted");
    });

    it("a key without kid, and a duplicate kid", async () => {
      const { kid: _kid, ...noKid } = es.publicJwks.keys[0]!;
      await invalid({ principals: [entry({ keys: { jwks: [noKid] } })] }, "kid");
      await invalid({ principals: [entry({ keys: { jwks: [es.publicJwks.keys[0], es.publicJwks.keys[0]] } })] }, "duplicate kid");
    });

    it("duplicate principal ids", async () => {
      await invalid({ principals: [entry(), entry()] }, "principals[1].id: duplicate principal id police-es");
    });

    it("an unknown scope, kind or malformed country, naming the entry", async () => {
      await invalid({ principals: [entry({ scopes: ["devices:everything"] })] }, "principals[0].scopes[0]");
      await invalid({ principals: [entry({ kind: "spy" })] }, "principals[0].kind");
      await invalid({ principals: [entry({ country: "Spain" })] }, "principals[0].country: country is an ISO 3166-1 alpha-2 code");
    });

    it("no key source, or two", async () => {
      await invalid({ principals: [entry({ keys: {} })] }, "give exactly one of jwksFile, jwks or jwksUrl");
      await invalid({ principals: [entry({ keys: { jwksFile: "police-es.jwks.json", jwksUrl: "https://keys.example/jwks.json" } })] }, "give exactly one");
    });

    it("a plain-http JWKS URL on a non-loopback host", async () => {
      await invalid({ principals: [entry({ keys: { jwksUrl: "http://keys.example.es/jwks.json" } })] }, "a JWKS URL must be https");
    });

    it("a JWKS file that is missing, naming it", async () => {
      await invalid({ principals: [entry({ keys: { jwksFile: "nowhere.jwks.json" } })] }, `cannot read JWKS file ${join(dir, "nowhere.jwks.json")}`);
    });

    it("a trust file that does not parse", async () => {
      await writeFile(join(dir, "broken.yaml"), "principals: [ {");
      await refused(TrustStore.load(join(dir, "broken.yaml")), Code.FAILED_PRECONDITION, "TRUST_FILE_INVALID", "is neither JSON nor YAML");
      await refused(TrustStore.load(join(dir, "absent.yaml")), Code.FAILED_PRECONDITION, "TRUST_FILE_INVALID", "ENOENT");
    });
  });
});
