import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { StolenEventKind, StolenEventSchema, type StolenEvent } from "../../gen/imeifed/v1/federation_pb.js";
import { AttestationSigner, type AttestationStatement } from "../../trust/attestation.js";
import { generatePrincipalKeys } from "../../trust/keys.js";
import { checkEventAttestation, parseEventId } from "../../oem/event-attestation-check.js";
import { registryKeySetFromJson, type RegistryKeySet } from "../../oem/registry-keys.js";

const KEY = "35693803000001";

function statement(over: Partial<AttestationStatement> = {}): AttestationStatement {
  return {
    device_key: KEY,
    status: "PROHIBITED",
    reason: "STOLEN",
    verified: true,
    reported_at: "2026-01-02T03:04:05.000Z",
    registry: "GB",
    change: "REPORTED",
    record_id: "r-1",
    seq: 7,
    ...over,
  };
}

function event(kind: StolenEventKind, attestation: string, over: { country?: string; eventId?: string } = {}): StolenEvent {
  return create(StolenEventSchema, {
    eventId: "GB:epoch-1:7",
    kind,
    device: { deviceKey: KEY, imei: "356938030000013", tac: "35693803" },
    country: "GB",
    attestation,
    cursor: "c",
    ...over,
  });
}

/** Flips one claim in the payload of a signed attestation, keeping the signature. */
function altered(jws: string, claims: Record<string, unknown>): string {
  const [header, payload, signature] = jws.split(".");
  const json = { ...JSON.parse(Buffer.from(payload!, "base64url").toString()), ...claims };
  return `${header}.${Buffer.from(JSON.stringify(json)).toString("base64url")}.${signature}`;
}

describe("manufacturer's check of an event's attestation", () => {
  let gb: AttestationSigner;
  let es: AttestationSigner;
  let forger: AttestationSigner;
  let keys: RegistryKeySet;
  let mergedKeys: RegistryKeySet;

  before(async () => {
    gb = await AttestationSigner.create({ issuer: "registry-gb", privateJwk: (await generatePrincipalKeys("registry-gb")).privateJwk });
    es = await AttestationSigner.create({ issuer: "registry-es", privateJwk: (await generatePrincipalKeys("registry-es")).privateJwk });
    // A forger who knows GB's kid but not its private key.
    const forgedKeys = await generatePrincipalKeys("registry-gb");
    forger = await AttestationSigner.create({ issuer: "registry-gb", privateJwk: { ...forgedKeys.privateJwk, kid: gb.kid } });
    keys = registryKeySetFromJson({ registries: { GB: gb.publicJwks(), ES: es.publicJwks() } }, "test keys");
    mergedKeys = registryKeySetFromJson({ keys: [...gb.publicJwks().keys, ...es.publicJwks().keys] }, "test keys");
  });

  it("accepts a verified theft attested by the owning registry, and returns its claims", async () => {
    const check = await checkEventAttestation(event(StolenEventKind.STOLEN_VERIFIED, await gb.sign(statement())), keys);
    assert.ok(check.ok, check.ok ? "" : check.problem);
    assert.equal(check.claims.iss, "registry-gb");
  });

  it("accepts TRACKED and CLEARED events with matching attestations", async () => {
    const tracked = await checkEventAttestation(event(StolenEventKind.TRACKED, await gb.sign(statement({ status: "TRACKED" }))), keys);
    assert.ok(tracked.ok);
    const cleared = await checkEventAttestation(event(StolenEventKind.CLEARED, await gb.sign(statement({ status: "PERMITTED", change: "CLEARED" }))), keys);
    assert.ok(cleared.ok);
  });

  const refusals: Array<[string, () => Promise<StolenEvent>, RegExp]> = [
    ["no attestation", async () => event(StolenEventKind.STOLEN_VERIFIED, ""), /carries no attestation/],
    ["an altered payload (unverified report made to look verified)", async () => event(StolenEventKind.STOLEN_VERIFIED, altered(await gb.sign(statement({ verified: false })), { verified: true })), /signature does not match/],
    ["an altered device key", async () => event(StolenEventKind.STOLEN_VERIFIED, altered(await gb.sign(statement()), { device_key: "35693803999999" })), /signature does not match/],
    ["a forged signature under the registry's kid", async () => event(StolenEventKind.STOLEN_VERIFIED, await forger.sign(statement())), /signature does not match/],
    ["a key the manufacturer does not know", async () => event(StolenEventKind.STOLEN_VERIFIED, await (await AttestationSigner.create({ issuer: "x", privateJwk: (await generatePrincipalKeys("stranger")).privateJwk })).sign(statement())), /no key with kid/],
    ["another registry's key vouching for a GB record", async () => event(StolenEventKind.STOLEN_VERIFIED, await es.sign(statement())), /no key with kid/],
    ["an attestation of another device", async () => event(StolenEventKind.STOLEN_VERIFIED, await gb.sign(statement({ device_key: "35693803000002" }))), /about device 35693803000002/],
    ["an attestation of another change (replayed)", async () => event(StolenEventKind.STOLEN_VERIFIED, await gb.sign(statement({ seq: 3 }))), /for change 3, not the event's 7/],
    ["an unverified report sent as STOLEN_VERIFIED", async () => event(StolenEventKind.STOLEN_VERIFIED, await gb.sign(statement({ verified: false }))), /not verified/],
    ["a TRACKED attestation sent as STOLEN_VERIFIED", async () => event(StolenEventKind.STOLEN_VERIFIED, await gb.sign(statement({ status: "TRACKED" }))), /needs an attested PROHIBITED/],
    ["a clearing sent as STOLEN_VERIFIED", async () => event(StolenEventKind.STOLEN_VERIFIED, await gb.sign(statement({ change: "CLEARED" }))), /needs an attested report, not a clearing/],
    [
      "a lookup's finding attestation (no change, no seq) replayed as a new theft",
      async () => {
        const { change: _change, seq: _seq, ...finding } = statement();
        return event(StolenEventKind.STOLEN_VERIFIED, await gb.sign(finding), { eventId: "GB:any-epoch:999999" });
      },
      /not of a registry change/,
    ],
    ["a report sent as CLEARED", async () => event(StolenEventKind.CLEARED, await gb.sign(statement())), /CLEARED needs an attested clearing/],
    ["an attestation from another registry's country", async () => event(StolenEventKind.STOLEN_VERIFIED, await gb.sign(statement()), { country: "ES", eventId: "ES:e:7" }), /no key with kid|from registry GB, not the event's ES/],
    ["an event id that names another country", async () => event(StolenEventKind.STOLEN_VERIFIED, await gb.sign(statement()), { eventId: "ES:e:7" }), /event id names ES/],
    ["an event kind a manufacturer does not act on", async () => event(StolenEventKind.UNSPECIFIED, await gb.sign(statement())), /not one a manufacturer acts on/],
  ];
  for (const [what, make, problem] of refusals) {
    it(`refuses ${what}`, async () => {
      const check = await checkEventAttestation(await make(), keys);
      assert.equal(check.ok, false);
      assert.match((check as { problem: string }).problem, problem);
    });
  }

  it("with a merged JWKS, still refuses a registry claim that is not the event's country", async () => {
    const check = await checkEventAttestation(event(StolenEventKind.STOLEN_VERIFIED, await es.sign(statement({ registry: "ES" }))), mergedKeys);
    assert.equal(check.ok, false);
    assert.match((check as { problem: string }).problem, /from registry ES, not the event's GB/);
  });

  it("flags an unknown key so the consumer can reload its keys", async () => {
    const check = await checkEventAttestation(event(StolenEventKind.STOLEN_VERIFIED, await es.sign(statement())), keys);
    assert.equal(check.ok, false);
    assert.equal((check as { unknownKey?: boolean }).unknownKey, true);
  });

  it("parses event ids whose epoch holds colons", () => {
    assert.deepEqual(parseEventId("GB:a:b:12"), { country: "GB", epoch: "a:b", sequence: 12n });
    assert.equal(parseEventId("GB-12"), undefined);
  });
});
