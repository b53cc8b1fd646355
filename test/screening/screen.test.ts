import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openAuditLog } from "../../trust/audit/index.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import {
  ScreeningDecision,
  ScreeningOutcome,
  UnansweredPolicy,
  UnansweredReason,
  type ManifestItem,
  type ScreenRequestSchema,
  type ScreenResponse,
  type ScreeningFinding,
  type ScreeningSummary,
} from "../../gen/imeifed/v1/federation_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "../../errors/index.js";
import { verifyAttestation } from "../../trust/attestation.js";
import { createClient, type Client } from "../../rpc/index.js";
import { FederationService } from "../../gen/imeifed/v1/federation_pb.js";
import { startTestRegistry } from "../support/registry-fixture.js";
import { metrics, METRIC, METRIC_ATTRIBUTE } from "../../observability/index.js";
import { startInMemoryTelemetry } from "../../observability/in-memory-telemetry.js";
import { imeiOf, startScreeningFederation, type ScreeningFederation } from "./support/screening-federation.js";
import { rejectsWith } from "../support/rejections.js";

type Request = MessageInitShape<typeof ScreenRequestSchema>;
type Item = Partial<Pick<ManifestItem, "deviceId" | "declaredMake" | "declaredModel" | "lineReference">>;

const STOLEN_GB = "35693803100017"; // Apple TAC, prohibited in GB
const TRACKED_ES = "35332011200015"; // Samsung TAC, tracked in ES
const STOLEN_JP = "86751306300013"; // Xiaomi TAC, prohibited in JP

const shipment = (declarationReference = "DEC-GB-2025-0001", onUnanswered = UnansweredPolicy.HOLD): Request => ({
  message: { case: "shipment", value: { declarationReference, exporter: "Acme Exports Ltd", destinationCountry: "HK", onUnanswered } },
});
const items = (...list: Item[]): Request => ({ message: { case: "items", value: { items: list } } });

async function* stream(...requests: Request[]) {
  yield* requests;
}

async function screen(client: Client<typeof FederationService>, requests: AsyncIterable<Request>) {
  const responses: ScreenResponse[] = [];
  for await (const r of client.screen(requests)) responses.push(r);
  const findings = responses.flatMap((r) => (r.message.case === "finding" ? [r.message.value] : []));
  const last = responses.at(-1);
  assert.equal(last?.message.case, "summary", "the stream ends with the summary");
  const summary = last!.message.value as ScreeningSummary;
  const count = (o: ScreeningOutcome) => Number(summary.counts.find((c) => c.outcome === o)?.count ?? 0n);
  return { responses, findings, summary, count };
}

const outcomes = (findings: ScreeningFinding[]) => findings.map((f) => [Number(f.itemIndex), ScreeningOutcome[f.outcome]]);

describe("FederationService.Screen through a real gateway and five real registries", function () {
  this.timeout(30_000);
  let fed: ScreeningFederation;
  let customs: Client<typeof FederationService>;

  before(async () => {
    fed = await startScreeningFederation({
      seed: {
        GB: [{ imeis: [imeiOf(STOLEN_GB)], make: "Apple", model: "iPhone 12" }],
        ES: [{ imeis: [imeiOf(TRACKED_ES)], status: DeviceStatus.TRACKED }],
        JP: [{ imeis: [imeiOf(STOLEN_JP)] }],
      },
    });
    customs = fed.client("customs-gb");
  });
  after(async () => {
    await fed?.cleanup();
  });

  it("streams each finding kind with its evidence, counts the clear items, and holds the shipment", async () => {
    const { findings, summary, count } = await screen(
      customs,
      stream(
        shipment(),
        items(
          { deviceId: imeiOf("35693803000003"), declaredMake: "APPLE", lineReference: "L1" }, // clear
          { deviceId: imeiOf(STOLEN_GB), declaredMake: "Apple", lineReference: "L2" }, // prohibited in GB
          { deviceId: "3569380300000", lineReference: "L3" }, // malformed: 13 digits
          { deviceId: `${TRACKED_ES}42`, lineReference: "L4" }, // tracked in ES (IMEISV form)
        ),
        items(
          { deviceId: imeiOf("35693803000011").slice(0, 14) + "9", lineReference: "L5" }, // malformed: check digit
          { deviceId: imeiOf("35693803000029"), declaredMake: "Samsung Electronics", lineReference: "L6" }, // TAC says Apple
          { deviceId: imeiOf(STOLEN_GB), lineReference: "L7" }, // duplicate of L2, across the batch boundary
          { deviceId: "000000000000000", lineReference: "L8" }, // malformed: all zeros
          { deviceId: imeiOf(STOLEN_JP), declaredMake: "Xiaomi", lineReference: "L9" }, // prohibited in JP
        ),
      ),
    );
    assert.deepEqual(outcomes(findings), [
      [1, "PROHIBITED"],
      [2, "MALFORMED"],
      [3, "TRACKED"],
      [4, "MALFORMED"],
      [5, "MODEL_MISMATCH"],
      [6, "DUPLICATE"],
      [7, "MALFORMED"],
      [8, "PROHIBITED"],
    ]);
    const at = (i: number) => findings.find((f) => Number(f.itemIndex) === i)!;
    // Provenance and proof: the owning registry's finding, with an attestation that verifies against its keys.
    const gb = at(1).findings.find((f) => f.finding?.country === "GB")!;
    assert.equal(gb.finding!.status, DeviceStatus.PROHIBITED);
    assert.equal(gb.finding!.deviceKey, STOLEN_GB);
    assert.equal(gb.finding!.reportingAgency, "", "customs do not see the reporting agency");
    const claims = await verifyAttestation(gb.finding!.attestation, fed.registries.get("GB")!.registry.jwks);
    assert.equal(claims.device_key, STOLEN_GB);
    assert.equal(at(1).item?.lineReference, "L2");
    assert.equal(at(1).device?.imei, imeiOf(STOLEN_GB));
    assert.equal(at(3).findings[0]?.finding?.country, "ES");
    assert.match(at(2).detail, /13 digits/);
    assert.match(at(4).detail, /Luhn/);
    assert.match(at(7).detail, /all zeros/);
    assert.match(at(5).detail, /TAC 35693803 is Apple iPhone 12, declared "Samsung Electronics"/);
    assert.match(at(6).detail, /same device as item 1/);
    assert.equal(count(ScreeningOutcome.CLEAR), 1);
    assert.equal(summary.itemsScreened, 9n);
    assert.deepEqual(summary.unanswered, []);
    assert.equal(summary.decision, ScreeningDecision.HOLD);
    assert.equal(summary.declarationReference, "DEC-GB-2025-0001");
  });

  it("releases a clean shipment", async () => {
    const { findings, summary, count } = await screen(
      customs,
      stream(shipment("DEC-CLEAN"), items(...["35693803000037", "35693803000045", "35693803000052"].map((b) => ({ deviceId: imeiOf(b), declaredMake: "Apple" })))),
    );
    assert.equal(findings.length, 0);
    assert.equal(count(ScreeningOutcome.CLEAR), 3);
    assert.equal(summary.decision, ScreeningDecision.RELEASE);
  });

  it("finds duplicates across many small batches", async () => {
    const bodies = Array.from({ length: 30 }, (_, i) => `3569380301${String(i).padStart(4, "0")}`);
    async function* oneByOne() {
      yield shipment("DEC-DUP");
      for (const b of bodies) yield items({ deviceId: imeiOf(b) });
      for (const b of bodies.slice(0, 5)) yield items({ deviceId: `${b}01` }); // the IMEISV form of the first five
    }
    const { findings, count } = await screen(customs, oneByOne());
    assert.deepEqual(
      findings.map((f) => [Number(f.itemIndex), ScreeningOutcome[f.outcome], f.detail]),
      bodies.slice(0, 5).map((_, i) => [30 + i, "DUPLICATE", `same device as item ${i} earlier in the manifest`]),
    );
    assert.equal(count(ScreeningOutcome.CLEAR), 30);
  });

  it("gathers a manifest's small batches into registry calls of the batch limit", async () => {
    const calls: { country: string; size: number }[] = [];
    const live = ["GB", "ES", "JP", "BR", "US"].map((country) => ({ country, address: fed.registries.get(country)!.registry.address, batchLimit: 50 }));
    const gateway = await fed.startGateway(live, {}, { onFlush: (country, event) => calls.push({ country, size: event.size }) });
    const client = createClient(FederationService, gateway.address, { metadata: fed.trust.metadataFor("customs-gb", "gateway") });
    try {
      const batches = Array.from({ length: 20 }, (_, b) => items(...Array.from({ length: 10 }, (_, i) => ({ deviceId: imeiOf(`3569380304${String(b * 10 + i).padStart(4, "0")}`) }))));
      const { count } = await screen(client, stream(shipment("DEC-GATHER"), ...batches));
      assert.equal(count(ScreeningOutcome.CLEAR), 200);
      for (const country of ["GB", "ES", "JP", "BR", "US"]) {
        const sizes = calls.filter((c) => c.country === country).map((c) => c.size);
        assert.equal(sizes.reduce((a, b) => a + b, 0), 200, `${country} was asked about every device once: ${sizes}`);
        assert.ok(sizes.every((n) => n <= 50), `${country}: no call over the batch limit: ${sizes}`);
        assert.ok(sizes.length <= 8, `${country}: 20 batches of 10 in ${sizes.length} calls (${sizes})`);
      }
    } finally {
      client.close();
    }
  });

  it("audits the screening with a digest of the devices checked, in manifest order", async () => {
    const dir = await mkdtemp(join(tmpdir(), "imeifed-screen-audit-"));
    const audit = await openAuditLog({ sqlite: join(dir, "audit.sqlite") });
    const live = ["GB", "ES", "JP", "BR", "US"].map((country) => ({ country, address: fed.registries.get(country)!.registry.address }));
    const gateway = await fed.startGateway(live, {}, { audit });
    const client = createClient(FederationService, gateway.address, { metadata: fed.trust.metadataFor("customs-gb", "gateway") });
    try {
      // Checked: a key with leading zeros, a listed device, an IMEISV (its key is its first 14
      // digits) and a non-digit form; not checked: a malformed item and a duplicate.
      const checked = ["00440123456789", STOLEN_GB, "35693803000037", "35693803000045"];
      const list = [
        { deviceId: imeiOf(checked[0]!) },
        { deviceId: imeiOf(STOLEN_GB) },
        { deviceId: "12345" },
        { deviceId: `${checked[2]}07` },
        { deviceId: imeiOf(STOLEN_GB) },
        { deviceId: imeiOf(checked[3]!).replace(/^(\d{8})/, "$1-") },
      ];
      await screen(client, stream(shipment("DEC-AUDIT"), items(...list.slice(0, 3)), items(...list.slice(3))));
      const [entry] = await audit.query({ method: "Screen" });
      assert.equal(entry?.purpose, "DEC-AUDIT");
      assert.equal(entry?.batchSize, checked.length);
      assert.equal(entry?.batchDigest, createHash("sha256").update(checked.map((k) => `${k}\n`).join("")).digest("hex"));
    } finally {
      client.close();
      await gateway.shutdown(200);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("counts screened items by outcome in the gateway's metrics", async () => {
    const telemetry = await startInMemoryTelemetry();
    const live = ["GB", "ES", "JP", "BR", "US"].map((country) => ({ country, address: fed.registries.get(country)!.registry.address }));
    const gateway = await fed.startGateway(live, {}, { metrics });
    const client = createClient(FederationService, gateway.address, { metadata: fed.trust.metadataFor("customs-gb", "gateway") });
    try {
      const list = [{ deviceId: imeiOf(STOLEN_GB) }, { deviceId: "12345" }, ...Array.from({ length: 7 }, (_, i) => ({ deviceId: imeiOf(`3569380305${String(i).padStart(4, "0")}`) }))];
      await screen(client, stream(shipment("DEC-METRICS"), items(...list)));
      const points = await telemetry.points(METRIC.screeningItems);
      const counted = Object.fromEntries(points.map((p) => [p.attributes[METRIC_ATTRIBUTE.screeningOutcome], p.value]));
      assert.deepEqual(counted, { prohibited: 1, malformed: 1, clear: 7 });
    } finally {
      client.close();
      await telemetry.shutdown();
    }
  });

  it("holds or passes by policy when a registry is down, and names it", async () => {
    // A gateway whose US registry is gone: the address of a registry that was stopped.
    const spare = await startTestRegistry({ country: "US", trust: fed.trust });
    const deadAddress = spare.registry.address;
    await spare.cleanup();
    const live = ["GB", "ES", "JP", "BR"].map((country) => ({ country, address: fed.registries.get(country)!.registry.address }));
    const gateway = await fed.startGateway([...live, { country: "US", address: deadAddress }], {}, {}, 0);
    const client = createClient(FederationService, gateway.address, { metadata: fed.trust.metadataFor("customs-gb", "gateway") });
    try {
      const clean = [{ deviceId: imeiOf("35693803000060") }, { deviceId: imeiOf("35693803000078") }];
      const held = await screen(client, stream(shipment("DEC-HOLD", UnansweredPolicy.HOLD), items(...clean)));
      assert.equal(held.findings.length, 0, "unanswered items are counted, not streamed");
      assert.equal(held.count(ScreeningOutcome.UNANSWERED), 2);
      assert.deepEqual(held.summary.unanswered.map((u) => u.country), ["US"]);
      assert.ok([UnansweredReason.UNAVAILABLE, UnansweredReason.CIRCUIT_OPEN, UnansweredReason.DEADLINE].includes(held.summary.unanswered[0]!.reason));
      assert.equal(held.summary.decision, ScreeningDecision.HOLD);

      const passed = await screen(client, stream(shipment("DEC-PASS", UnansweredPolicy.PASS), items(...clean, { deviceId: imeiOf(STOLEN_GB) })));
      assert.equal(passed.count(ScreeningOutcome.UNANSWERED), 2);
      assert.equal(passed.summary.decision, ScreeningDecision.HOLD, "a finding holds whatever the policy");
      const passedClean = await screen(client, stream(shipment("DEC-PASS-2", UnansweredPolicy.PASS), items(...clean)));
      assert.equal(passedClean.summary.decision, ScreeningDecision.RELEASE);
    } finally {
      client.close();
    }
  });

  it("paces a screening to the caller's devices/s quota instead of failing it", async () => {
    // 1,000 devices/s with a 0.1 s burst: 1,000 devices cannot pass in less than 0.9 s.
    const live = ["GB", "ES", "JP", "BR", "US"].map((country) => ({ country, address: fed.registries.get(country)!.registry.address }));
    const gateway = await fed.startGateway(live, { quotas: { default: { callsPerSecond: 100, devicesPerSecond: 1_000, burstSeconds: 0.1 } } });
    const client = createClient(FederationService, gateway.address, { metadata: fed.trust.metadataFor("customs-gb", "gateway") });
    try {
      const list = Array.from({ length: 1_000 }, (_, i) => ({ deviceId: imeiOf(`3569380302${String(i).padStart(4, "0")}`) }));
      const started = Date.now();
      const { summary, count } = await screen(client, stream(shipment("DEC-QUOTA"), items(...list)));
      const elapsed = Date.now() - started;
      assert.equal(count(ScreeningOutcome.CLEAR), 1_000);
      assert.equal(summary.decision, ScreeningDecision.RELEASE);
      assert.ok(elapsed >= 850, `1,000 devices at 1,000/s passed in ${elapsed} ms`);
    } finally {
      client.close();
    }
  });

  it("refuses a stream that does not start with the shipment, or whose shipment has no declaration", async () => {
    await rejectsWith(screen(customs, stream(items({ deviceId: imeiOf(STOLEN_GB) }))), Code.INVALID_ARGUMENT, /first request must be the Shipment/);
    await rejectsWith(screen(customs, stream(shipment("  "), items({ deviceId: imeiOf(STOLEN_GB) }))), Code.INVALID_ARGUMENT, /declaration_reference: is required/);
    await rejectsWith(screen(customs, stream(shipment("DEC-X"), shipment("DEC-Y"))), Code.INVALID_ARGUMENT, /second Shipment/);
  });

  it("refuses callers without a token or without the screening scope", async () => {
    const anonymous = createClient(FederationService, fed.gateway.address);
    const noScope = createClient(FederationService, fed.gateway.address, { metadata: fed.trust.metadataFor("customs-gb", "gateway", ["devices:check"]) });
    try {
      await rejectsWith(screen(anonymous, stream(shipment())), Code.UNAUTHENTICATED, /token/i);
      await rejectsWith(screen(noScope, stream(shipment())), Code.PERMISSION_DENIED, /devices:screen/);
    } finally {
      anonymous.close();
      noScope.close();
    }
  });
});
