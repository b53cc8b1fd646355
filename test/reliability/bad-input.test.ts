/**
 * Bad input, from outside: every text field of every request of both services
 * (found by walking the contract's descriptors, so a new field is tried the
 * day it is added), sent over real sockets to a gateway process and a
 * registry process, with an 8 KB (and a 64 KB) value, a NUL, an ESC, CR LF,
 * a line separator and a bidi override. Each must be INVALID_ARGUMENT whose message
 * names the field and stays short (a message echoing the value once crossed
 * the client's 8 KB metadata limit and arrived as RESOURCE_EXHAUSTED); never
 * RESOURCE_EXHAUSTED, INTERNAL or UNKNOWN, never accepted. Bytes that are not
 * a protobuf message are INVALID_ARGUMENT saying so, for unary, streamed and
 * hand-decoded methods; and an empty purpose is refused by a registry as by
 * the gateway.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client as GrpcClient, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { ScalarType, type DescField, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ImeifedError } from "../../errors/index.js";
import { FederationService } from "../../gen/imeifed/v1/federation_pb.js";
import { RegistryService, SightingKind } from "../../gen/imeifed/v1/registry_pb.js";
import { ClearReason, DeviceStatus, Reason } from "../../gen/imeifed/v1/device_pb.js";
import { createClient, type CallOptions } from "../../rpc/index.js";
import { fromServiceError } from "../../rpc/status.js";
import { fullNameOf, textLimitEntry } from "../../contract/index.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { spawnRegistryProcess, type RegistryProcess } from "../support/registry-fixture.js";
import { spawnGatewayProcess } from "../support/gateway-process.js";
import type { ServerProcess } from "../support/server-process.js";
import { testDevice } from "../registry/test-imeis.js";
import { rejection } from "../support/rejections.js";

/** One text field of a request, where a bad value can be put: the path the error must name, and the request holding the value there. */
interface TextSlot {
  readonly path: string;
  readonly field: DescField;
  request(value: string): Record<string, unknown>;
}

/** Every text field of `schema`, nested messages, lists, oneofs and maps included (a list holds the value at [0], a map under `traceparent`). */
function textSlots(schema: DescMessage): TextSlot[] {
  const slots: TextSlot[] = [];
  for (const field of schema.fields) {
    const put = (value: unknown) => (field.oneof ? { [field.oneof.localName]: { case: field.localName, value } } : { [field.localName]: value });
    const nested = (message: DescMessage, prefix: string, wrap: (inner: unknown) => unknown) => {
      for (const inner of textSlots(message)) slots.push({ path: `${prefix}.${inner.path}`, field: inner.field, request: (v) => put(wrap(inner.request(v))) });
    };
    switch (field.fieldKind) {
      case "scalar":
        if (field.scalar === ScalarType.STRING) slots.push({ path: field.name, field, request: (v) => put(v) });
        break;
      case "list":
        if (field.listKind === "scalar" && field.scalar === ScalarType.STRING) slots.push({ path: `${field.name}[0]`, field, request: (v) => put([v]) });
        if (field.listKind === "message") nested(field.message, `${field.name}[0]`, (inner) => [inner]);
        break;
      case "message":
        nested(field.message, field.name, (inner) => inner);
        break;
      case "map":
        assert.equal(field.mapKey, ScalarType.STRING, `${fullNameOf(field)}: a map this test cannot fill`);
        slots.push({ path: `${field.name} (a key)`, field, request: (v) => put({ [v]: "x" }) });
        if (field.mapKind === "scalar" && field.scalar === ScalarType.STRING) slots.push({ path: `${field.name}["traceparent"]`, field, request: (v) => put({ traceparent: v }) });
        break;
    }
  }
  return slots;
}

/** The bad values, each inside a plausible text. */
const BAD_VALUES: readonly { name: string; value: string }[] = [
  // One past W3C baggage's 8,192 bytes, the longest limit a text field has short of a cursor.
  { name: "an 8 KB value", value: "7".repeat(8 * 1024 + 1) },
  { name: "a 64 KB value", value: "7".repeat(64 * 1024) },
  { name: "a NUL", value: "CASE\u0000-1" },
  { name: "an ESC", value: "CASE\u001b[31m-1" },
  { name: "CR LF", value: "CASE-1\r\nX-Forged: yes" },
  { name: "a line separator", value: "CASE\u2028-1" },
  { name: "a bidi override", value: "CASE-\u202e1-ESAC" },
];

const IMEI = testDevice(1).imei;

/**
 * A valid request of each method with a text field (a stream's: its messages),
 * into which a slot's bad value is merged, so that the bad value is the only
 * thing wrong with what is sent.
 */
const VALID: Readonly<Record<string, Record<string, unknown>>> = {
  Lookup: { imei: IMEI, purpose: "CASE-1" },
  Screen: { message: { case: "shipment", value: { declarationReference: "DEC-1", destinationCountry: "HK" } } },
  ReportFound: { imei: IMEI, purpose: "CASE-1", found: { location: "Heathrow T5", contact: "+44 20 7946 0000" } },
  WatchStolen: {},
  ReportDevice: { imeis: [IMEI], status: DeviceStatus.PROHIBITED, reason: Reason.STOLEN, caseReference: "CASE-1" },
  ClearDevice: { imei: IMEI, caseReference: "CASE-1", reason: ClearReason.RECOVERED },
  CheckDevice: { imei: IMEI, purpose: "CASE-1" },
  CheckDevices: { imeis: [IMEI], purpose: "CASE-1" },
  CheckDevicesStream: { id: 1n, batch: { imeis: [IMEI], purpose: "CASE-1" } },
  WatchChanges: {},
  RecordSighting: { imei: IMEI, kind: SightingKind.FOUND, purpose: "CASE-1", found: { location: "Heathrow T5", contact: "+44 20 7946 0000" } },
  RecordSightings: { sightings: [{ imei: IMEI, kind: SightingKind.FOUND, purpose: "CASE-1" }] },
};
/** Screen's items come after its shipment. */
const VALID_ITEMS = { message: { case: "items", value: { items: [{ deviceId: IMEI, declaredMake: "Samsung", declaredModel: "A52", lineReference: "L1" }] } } };

/** `over` laid onto `base`: objects field by field, lists element by element, a oneof replaced when its case differs. */
function merged(base: unknown, over: unknown): unknown {
  if (Array.isArray(over)) return over.map((item, i) => merged(Array.isArray(base) ? base[i] : undefined, item));
  if (over === null || typeof over !== "object" || base === null || typeof base !== "object" || Array.isArray(base)) return over;
  const b = base as Record<string, unknown>;
  const o = over as Record<string, unknown>;
  if ("case" in o && "case" in b && o.case !== b.case) return over;
  const out = { ...b };
  for (const [key, value] of Object.entries(o)) out[key] = merged(b[key], value);
  return out;
}

/** The messages that carry `bad` (a slot's partial request) to `method`: a valid request with the bad value laid on. */
function messagesFor(method: DescMethod, bad: Record<string, unknown>): Record<string, unknown>[] {
  const valid = VALID[method.name];
  assert.ok(valid, `no valid ${method.name} request in this test: add one to VALID`);
  if (method.name === "Screen" && (bad.message as { case?: string }).case === "items") return [valid, merged(VALID_ITEMS, bad) as Record<string, unknown>];
  return [merged(valid, bad) as Record<string, unknown>];
}

/** Who may call each method at all (the text check runs after authentication); police-gb for the rest. */
const CALLER: Readonly<Record<string, string>> = { WatchStolen: "oem-demo", WatchChanges: "gateway", Screen: "customs-gb" };

const DEADLINE_MS = 5_000;

/** How a call sending `messages` (one, unless a stream's) ended: the error, or "OK" when it was accepted. */
async function outcomeOf(client: Record<string, unknown>, method: DescMethod, messages: Record<string, unknown>[]): Promise<ImeifedError | "OK"> {
  const [request] = messages;
  const call = client[method.localName] as (request: unknown, options: CallOptions) => unknown;
  const options = { deadline: DEADLINE_MS };
  try {
    switch (method.methodKind) {
      case "unary":
        await call(request, options);
        break;
      case "server_streaming":
        for await (const _ of call(request, options) as AsyncIterable<unknown>) {
          // Drained only to see how it ends.
        }
        break;
      default:
        for await (const _ of call((async function* () { yield* messages; })(), options) as AsyncIterable<unknown>) {
          // Drained only to see how it ends.
        }
        break;
    }
    return "OK";
  } catch (error) {
    return error instanceof ImeifedError ? error : ImeifedError.from(error);
  }
}

describe("reliability: bad input of every text field", function () {
  this.timeout(120_000);
  let trust: TestTrust;
  let dir: string;
  let registry: RegistryProcess;
  let gateway: ServerProcess;
  const servers = () => [
    { service: FederationService as DescService, address: gateway.address, audience: "gateway" },
    { service: RegistryService as DescService, address: registry.address, audience: "registry-gb" },
  ];
  const clients: { close(): void }[] = [];
  const clientFor = (service: DescService, address: string, principal: string, audience: string) => {
    const client = createClient(service, address, { metadata: trust.metadataFor(principal, audience) });
    clients.push(client);
    return client as unknown as Record<string, unknown>;
  };

  before(async () => {
    trust = await createTestTrust();
    dir = mkdtempSync(join(tmpdir(), "imeifed-bad-input-"));
    registry = await spawnRegistryProcess({ country: "GB", trust, db: { sqlite: join(dir, "gb.sqlite") } });
    gateway = await spawnGatewayProcess({ trust, registries: [{ country: "GB", address: registry.address }] });
  });

  after(async () => {
    for (const client of clients) client.close();
    await gateway?.stop();
    await registry?.stop();
    await trust?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("knows every string field of every request of both services, and the contract bounds each one", () => {
    const slots = [FederationService, RegistryService].flatMap((service) => service.methods.flatMap((method) => textSlots(method.input)));
    // The contract's request messages hold 40 string fields today (FoundDetails and a map among them).
    assert.ok(new Set(slots.map((s) => fullNameOf(s.field))).size >= 40, "the walk found the contract's text fields");
    for (const slot of slots) assert.notEqual(textLimitEntry(slot.field), undefined, `${fullNameOf(slot.field)} has a limit in contract/text-limits.ts`);
  });

  for (const bad of BAD_VALUES) {
    it(`answers ${bad.name} in any text field with INVALID_ARGUMENT naming the field, in a short message`, async () => {
      const wrong: string[] = [];
      let tried = 0;
      for (const { service, address, audience } of servers()) {
        for (const method of service.methods) {
          const slots = textSlots(method.input);
          if (slots.length === 0) continue;
          const client = clientFor(service, address, CALLER[method.name] ?? "police-gb", audience);
          for (const slot of slots) {
            tried++;
            const outcome = await outcomeOf(client, method, messagesFor(method, slot.request(bad.value)));
            const where = `${method.name} ${slot.path}`;
            if (outcome === "OK") wrong.push(`${where}: accepted`);
            else if (outcome.code !== Code.INVALID_ARGUMENT) wrong.push(`${where}: ${Code[outcome.code]} ${outcome.message.slice(0, 120)}`);
            else if (!outcome.message.startsWith(`${slot.path}: `)) wrong.push(`${where}: does not name the field: ${outcome.message.slice(0, 120)}`);
            else if (Buffer.byteLength(outcome.message) >= 300) wrong.push(`${where}: a ${Buffer.byteLength(outcome.message)}-byte message`);
          }
        }
      }
      assert.ok(tried >= 40, `tried ${tried} fields`);
      assert.deepEqual(wrong, []);
    });
  }

  describe("bytes that are not a message of the method's type", () => {
    /** A body that no decoder reads: field 1, length-delimited, 16 bytes announced, 1 sent. */
    const GARBAGE = Buffer.from([0x0a, 0x10, 0x41]);
    /** Screen's items field, truncated: its hand-written decoder must refuse it as protobuf-es would. */
    const GARBAGE_ITEMS = Buffer.from([0x12, 0x05, 0x0a, 0x03, 0x0a]);
    const identity = (bytes: Buffer) => bytes;
    let raw: GrpcClient[] = [];
    afterEach(() => {
      for (const client of raw) client.close();
      raw = [];
    });

    const rawClient = async (address: string, principal: string, audience: string) => {
      const client = new GrpcClient(address, credentials.createInsecure());
      raw.push(client);
      const metadata = new Metadata();
      metadata.set("authorization", (await trust.metadataFor(principal, audience)()).authorization);
      return { client, metadata, options: { deadline: Date.now() + DEADLINE_MS } };
    };

    const unary = async (address: string, path: string, body: Buffer, principal: string, audience: string): Promise<ImeifedError | "OK"> => {
      const { client, metadata, options } = await rawClient(address, principal, audience);
      return new Promise((resolve) => client.makeUnaryRequest(path, identity, identity, body, metadata, options, (error) => resolve(error ? fromServiceError(error) : "OK")));
    };

    const serverStream = async (address: string, path: string, body: Buffer, principal: string, audience: string): Promise<ImeifedError | "OK"> => {
      const { client, metadata, options } = await rawClient(address, principal, audience);
      const stream = client.makeServerStreamRequest(path, identity, identity, body, metadata, options);
      return new Promise((resolve) => {
        stream.on("data", () => undefined);
        stream.on("error", (error: ServiceError) => resolve(fromServiceError(error)));
        stream.on("end", () => resolve("OK"));
      });
    };

    const bidi = async (address: string, path: string, bodies: Buffer[], principal: string, audience: string): Promise<ImeifedError | "OK"> => {
      const { client, metadata, options } = await rawClient(address, principal, audience);
      const stream = client.makeBidiStreamRequest(path, identity, identity, metadata, options);
      const ended = new Promise<ImeifedError | "OK">((resolve) => {
        stream.on("data", () => undefined);
        stream.on("error", (error: ServiceError) => resolve(fromServiceError(error)));
        stream.on("end", () => resolve("OK"));
      });
      for (const body of bodies) stream.write(body);
      stream.end();
      return ended;
    };

    const notAMessage = (outcome: ImeifedError | "OK", typeName: string) => {
      assert.ok(outcome !== "OK", "the call was accepted");
      assert.equal(Code[outcome.code], "INVALID_ARGUMENT", outcome.message);
      assert.match(outcome.message, new RegExp(`not a valid ${typeName.replaceAll(".", "\\.")} message`));
    };

    it("answers a unary method's garbage with INVALID_ARGUMENT naming the message type (gateway Lookup, registry CheckDevice)", async () => {
      notAMessage(await unary(gateway.address, "/imeifed.v1.FederationService/Lookup", GARBAGE, "police-gb", "gateway"), "imeifed.v1.LookupRequest");
      notAMessage(await unary(registry.address, "/imeifed.v1.RegistryService/CheckDevice", GARBAGE, "police-gb", "registry-gb"), "imeifed.v1.CheckDeviceRequest");
    });

    it("answers a hand-decoded method's garbage alike (registry CheckDevices)", async () => {
      notAMessage(await unary(registry.address, "/imeifed.v1.RegistryService/CheckDevices", GARBAGE, "police-gb", "registry-gb"), "imeifed.v1.CheckDevicesRequest");
    });

    it("answers a stream's garbage alike, first message or later (Screen and CheckDevicesStream, both hand-decoded; WatchStolen)", async () => {
      const screen = "/imeifed.v1.FederationService/Screen";
      notAMessage(await bidi(gateway.address, screen, [GARBAGE], "customs-gb", "gateway"), "imeifed.v1.ScreenRequest");
      // A valid shipment (field 1 { declaration_reference: "DEC-1" }), then a truncated items message.
      const shipment = Buffer.from([0x0a, 0x07, 0x0a, 0x05, ...Buffer.from("DEC-1")]);
      notAMessage(await bidi(gateway.address, screen, [shipment, GARBAGE_ITEMS], "customs-gb", "gateway"), "imeifed.v1.ScreenRequest");
      notAMessage(await bidi(registry.address, "/imeifed.v1.RegistryService/CheckDevicesStream", [GARBAGE], "police-gb", "registry-gb"), "imeifed.v1.CheckDevicesStreamRequest");
      notAMessage(await serverStream(gateway.address, "/imeifed.v1.FederationService/WatchStolen", GARBAGE, "oem-demo", "gateway"), "imeifed.v1.WatchStolenRequest");
    });
  });

  it("refuses an empty purpose at a registry with the same INVALID_ARGUMENT as the gateway", async () => {
    const imei = IMEI;
    const federation = clientFor(FederationService, gateway.address, "police-gb", "gateway") as unknown as ReturnType<typeof createClient<typeof FederationService>>;
    const gb = clientFor(RegistryService, registry.address, "police-gb", "registry-gb") as unknown as ReturnType<typeof createClient<typeof RegistryService>>;
    const refusal = async (call: Promise<unknown>) => {
      const error = await rejection(call);
      return { code: Code[error.code], reason: error.reason, message: error.message };
    };
    for (const purpose of ["", "   "]) {
      const fromGateway = await refusal(federation.lookup({ imei, purpose }, { deadline: DEADLINE_MS }));
      assert.deepEqual(fromGateway, { code: "INVALID_ARGUMENT", reason: "PURPOSE_REQUIRED", message: fromGateway.message });
      assert.match(fromGateway.message, /^purpose: /);
      assert.deepEqual(await refusal(gb.checkDevice({ imei, purpose }, { deadline: DEADLINE_MS })), fromGateway);
      assert.deepEqual(await refusal(gb.checkDevices({ imeis: [imei], purpose }, { deadline: DEADLINE_MS })), fromGateway);
      // On a stream, a refused batch is answered with the same error for its id, and the stream goes on.
      const answers = [];
      for await (const answer of gb.checkDevicesStream(
        (async function* () {
          yield { id: 1n, batch: { imeis: [imei], purpose } };
          yield { id: 2n, batch: { imeis: [imei], purpose: "CASE-1" } };
        })(),
        { deadline: DEADLINE_MS },
      )) {
        answers.push(answer);
        if (answers.length === 2) break;
      }
      const failed = answers.find((a) => a.id === 1n)?.result;
      assert.equal(failed?.case, "error");
      assert.deepEqual({ code: Code[failed.value.code], reason: failed.value.reason, message: failed.value.message }, fromGateway);
      assert.equal(answers.find((a) => a.id === 2n)?.result.case, "checks");
    }
  });
});

