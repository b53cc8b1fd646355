/**
 * The contract stands alone: a client built from nothing but proto/ (loaded at
 * run time by @grpc/proto-loader, a different protobuf library from the one the
 * servers use, as a partner in another language would) can report, check,
 * clear and watch on a real registry over a real socket.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startTestRegistry, type TestRegistry } from "../support/registry-fixture.js";

const PROTO_DIR = fileURLToPath(new URL("../../proto", import.meta.url));

type Callback = (error: grpc.ServiceError | null, response: Record<string, unknown>) => void;
type UnaryMethod = (request: unknown, metadata: grpc.Metadata, callback: Callback) => void;

function unary(client: grpc.Client, method: string, request: unknown, metadata: grpc.Metadata): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => ((client as unknown as Record<string, UnaryMethod>)[method]!).call(client, request, metadata, (error, response) => (error ? reject(error) : resolve(response))));
}

describe("a client built from proto/ alone", () => {
  let trust: TestTrust;
  let registry: TestRegistry;
  let client: grpc.Client;
  let metadata: grpc.Metadata;
  let watchMetadata: grpc.Metadata;

  before(async () => {
    trust = await createTestTrust();
    registry = await startTestRegistry({ country: "GB", trust });
    const definition = protoLoader.loadSync("imeifed/v1/registry.proto", { includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as { imeifed: { v1: { RegistryService: grpc.ServiceClientConstructor } } };
    client = new loaded.imeifed.v1.RegistryService(registry.registry.address, grpc.credentials.createInsecure());
    const token = await trust.token("police-gb", { audience: registry.id, scopes: ["devices:report", "devices:check"] });
    metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${token}`);
    // The raw change stream is for gateways (a partner's own gateway, built from proto/ too).
    const gatewayToken = await trust.token("gateway", { audience: registry.id, scopes: ["devices:watch"] });
    watchMetadata = new grpc.Metadata();
    watchMetadata.set("authorization", `Bearer ${gatewayToken}`);
  });
  after(async () => {
    client?.close();
    await registry?.cleanup();
    await trust?.cleanup();
  });

  it("reports, checks, watches and clears a device", async () => {
    const imei = "356938035643809";
    const reported = await unary(client, "reportDevice", {
      imeis: [imei],
      status: "DEVICE_STATUS_PROHIBITED",
      reason: "REASON_STOLEN",
      case_reference: "MET/2026/1",
      verification: { crime_reference: "CR/2026/1" },
      owner_contact: { name: "A. Owner", phone: "+44 20 0000 0000" },
    }, metadata);
    const devices = reported.devices as Array<{ created: boolean; device: { device_key: string } }>;
    assert.equal(devices[0]?.created, true);
    assert.equal(devices[0]?.device.device_key, "35693803564380");

    const checked = await unary(client, "checkDevice", { imei: "3569380356438012", purpose: "CASE-1" }, metadata);
    const check = checked.check as { status: string; finding: { verified: boolean; reporting_agency: string; attestation: string } };
    assert.equal(check.status, "DEVICE_STATUS_PROHIBITED");
    assert.equal(check.finding.verified, true);
    assert.equal(check.finding.reporting_agency, "police-gb");
    assert.ok(check.finding.attestation.split(".").length === 3);
    assert.doesNotMatch(JSON.stringify(checked), /A\. Owner|\+44/);

    const stream = (client as unknown as Record<string, (r: unknown, m: grpc.Metadata) => grpc.ClientReadableStream<Record<string, unknown>>>).watchChanges!.call(client, { after_sequence: "0" }, watchMetadata);
    const events: string[] = [];
    for await (const message of stream) {
      events.push(String(message.event));
      if (message.event === "caught_up") break;
    }
    stream.cancel();
    assert.deepEqual(events, ["change", "caught_up"]);

    const cleared = await unary(client, "clearDevice", { imei, reason: "CLEAR_REASON_RECOVERED", case_reference: "MET/2026/1" }, metadata);
    assert.equal(cleared.status, "DEVICE_STATUS_PERMITTED");
    const after = await unary(client, "checkDevice", { imei, purpose: "CASE-1" }, metadata);
    assert.equal((after.check as { status: string }).status, "DEVICE_STATUS_PERMITTED");
  });
});
