import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { Metadata } from "@grpc/grpc-js";
import { FederationService, ScreeningOutcome } from "../../gen/imeifed/v1/federation_pb.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createClient, createContextKey, hosted, setInternalErrorSink, startHost, type CallContext, type RunningHost, type ServiceImpl } from "../../rpc/index.js";
import { requireDevice } from "../../device/index.js";

const unimplemented = async (): Promise<never> => {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "not in this test");
};
// eslint-disable-next-line require-yield
async function* unimplementedStream(): AsyncIterable<never> {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "not in this test");
}

const SEEN_BY = createContextKey<string>("nobody", "seen-by");

describe("rpc adapter (protobuf-es over grpc-js)", () => {
  let host: RunningHost;
  let cancelledStreams = 0;
  let lastSignal: AbortSignal | undefined;
  const registry: ServiceImpl<typeof RegistryService> = {
    async checkDevice(request, ctx) {
      if (request.imei === "throw-internal") throw new Error("database password is hunter2");
      if (request.imei === "slow") {
        await sleep(2_000, undefined, { signal: ctx.signal }).catch(() => undefined);
        return {};
      }
      lastSignal = ctx.signal;
      const device = requireDevice(request.imei);
      return {
        check: {
          deviceKey: device.key,
          status: DeviceStatus.PERMITTED,
          finding: { reportingAgency: `${ctx.values.get(SEEN_BY)}|${ctx.requestMetadata.get("x-who")[0] ?? ""}` },
        },
      };
    },
    async *watchChanges(request, ctx) {
      // after_sequence 1000: messages larger than the reader's flow-control window, so the server waits for drain.
      const deviceKey = request.afterSequence === 1000n ? "4".repeat(256 * 1024) : "49015420323751";
      try {
        for (let sequence = request.afterSequence + 1n; ; sequence++) {
          if (ctx.signal.aborted) return;
          yield { epoch: "e1", event: { case: "change", value: { sequence, deviceKey } } };
          if (request.afterSequence === 0n && sequence === 3n) return;
          if (request.afterSequence !== 1000n) await sleep(5);
        }
      } finally {
        cancelledStreams++;
      }
    },
    reportDevice: unimplemented,
    clearDevice: unimplemented,
    checkDevices: unimplemented,
    checkDevicesStream: unimplementedStream,
    recordSighting: unimplemented,
    recordSightings: unimplemented,
    watchSightings: unimplementedStream,
    getKeys: unimplemented,
  };
  const federation: ServiceImpl<typeof FederationService> = {
    async *screen(requests) {
      let index = 0n;
      for await (const request of requests) {
        if (request.message.case !== "items") continue;
        for (const item of request.message.value.items) {
          yield { message: { case: "finding", value: { outcome: ScreeningOutcome.CLEAR, item, itemIndex: index++ } } };
        }
      }
      yield { message: { case: "summary", value: { itemsScreened: index } } };
    },
    lookup: unimplemented,
    reportFound: unimplemented,
    watchStolen: unimplementedStream,
    getRegistryKeys: unimplemented,
  };

  before(async () => {
    host = await startHost({
      listen: "127.0.0.1:0",
      services: [hosted(RegistryService, registry), hosted(FederationService, federation)],
      interceptors: [
        async (ctx: CallContext, next) => {
          if (ctx.requestMetadata.get("x-refuse").length > 0) {
            throw new ImeifedError(Code.RESOURCE_EXHAUSTED, "QUOTA_CALLS", "slow down", { retryAfterMs: 1500 });
          }
          ctx.values.set(SEEN_BY, "interceptor");
          await next();
        },
      ],
    });
  });
  after(() => host.shutdown(100));

  it("answers a unary call with values set by interceptors and request metadata", async () => {
    const client = createClient(RegistryService, host.address, { metadata: () => ({ "x-who": "police-es" }) });
    const response = await client.checkDevice({ imei: "490154203237518" });
    assert.equal(response.check?.deviceKey, "49015420323751");
    assert.equal(response.check?.finding?.reportingAgency, "interceptor|police-es");
    client.close();
  });

  it("leaves a finished call's signal alone (no abort after a normal answer)", async () => {
    const client = createClient(RegistryService, host.address);
    lastSignal = undefined;
    await client.checkDevice({ imei: "490154203237518" });
    await sleep(50);
    const signal = lastSignal as AbortSignal | undefined;
    assert.ok(signal, "the handler ran");
    assert.equal(signal.aborted, false);
    client.close();
  });

  it("maps a domain error to its status code and message", async () => {
    const client = createClient(RegistryService, host.address);
    await assert.rejects(client.checkDevice({ imei: "12345" }), (error: ImeifedError) => {
      assert.equal(error.code, Code.INVALID_ARGUMENT);
      assert.equal(error.reason, "IMEI_LENGTH");
      assert.match(error.message, /imei: has 5 digits/);
      return true;
    });
    client.close();
  });

  it("hides internal errors behind INTERNAL without leaking their message", async () => {
    const client = createClient(RegistryService, host.address);
    const logged: unknown[] = [];
    const previous = setInternalErrorSink((error) => logged.push(error));
    try {
      await assert.rejects(client.checkDevice({ imei: "throw-internal" }), (error: ImeifedError) => {
        assert.equal(error.code, Code.INTERNAL);
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      });
    } finally {
      setInternalErrorSink(previous);
    }
    assert.equal(logged.length, 1);
    client.close();
  });

  it("sends a retry delay in trailing metadata when an interceptor refuses", async () => {
    const client = createClient(RegistryService, host.address);
    await assert.rejects(client.checkDevice({ imei: "490154203237518" }, { metadata: { "x-refuse": "1" } }), (error: ImeifedError) => {
      assert.equal(error.code, Code.RESOURCE_EXHAUSTED);
      assert.equal(error.retryAfterMs, 1500);
      return true;
    });
    client.close();
  });

  it("ends a call at its deadline with DEADLINE_EXCEEDED", async () => {
    const client = createClient(RegistryService, host.address);
    await assert.rejects(client.checkDevice({ imei: "slow" }, { deadline: 100 }), (error: ImeifedError) => error.code === Code.DEADLINE_EXCEEDED);
    client.close();
  });

  it("cancels a unary call through an AbortSignal", async () => {
    const client = createClient(RegistryService, host.address);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(client.checkDevice({ imei: "slow" }, { signal: controller.signal }), (error: ImeifedError) => error.code === Code.CANCELLED);
    client.close();
  });

  it("streams server messages to the end", async () => {
    const client = createClient(RegistryService, host.address);
    const sequences: bigint[] = [];
    for await (const response of client.watchChanges({ afterSequence: 0n })) {
      if (response.event.case === "change") sequences.push(response.event.value.sequence);
    }
    assert.deepEqual(sequences, [1n, 2n, 3n]);
    client.close();
  });

  it("cancels a server stream when the reader stops, and the handler sees it", async () => {
    const client = createClient(RegistryService, host.address);
    const before = cancelledStreams;
    let seen = 0;
    for await (const response of client.watchChanges({ afterSequence: 10n })) {
      assert.equal(response.epoch, "e1");
      if (++seen === 5) break;
    }
    for (let i = 0; i < 100 && cancelledStreams === before; i++) await sleep(10);
    assert.equal(cancelledStreams, before + 1);
    client.close();
  });

  it("closes a server stream's handler when the caller goes away while a response waits for drain", async () => {
    const client = createClient(RegistryService, host.address, { channelOptions: { "grpc-node.flow_control_window": 65_535 } });
    const before = cancelledStreams;
    for await (const response of client.watchChanges({ afterSequence: 1000n })) {
      assert.equal(response.epoch, "e1");
      break;
    }
    for (let i = 0; i < 100 && cancelledStreams === before; i++) await sleep(10);
    assert.equal(cancelledStreams, before + 1, "the handler's finally ran");
    client.close();
  });

  it("runs a bidirectional stream, answering after the request side ends", async () => {
    const client = createClient(FederationService, host.address);
    async function* requests() {
      yield create((await import("../../gen/imeifed/v1/federation_pb.js")).ScreenRequestSchema, {
        message: { case: "shipment", value: { declarationReference: "DEC-1" } },
      });
      for (let batch = 0; batch < 3; batch++) {
        yield { message: { case: "items" as const, value: { items: [{ deviceId: `a${batch}` }, { deviceId: `b${batch}` }] } } };
      }
    }
    const outcomes: string[] = [];
    let summary: bigint | undefined;
    for await (const response of client.screen(requests())) {
      if (response.message.case === "finding") outcomes.push(response.message.value.item?.deviceId ?? "");
      if (response.message.case === "summary") summary = response.message.value.itemsScreened;
    }
    assert.deepEqual(outcomes, ["a0", "b0", "a1", "b1", "a2", "b2"]);
    assert.equal(summary, 6n);
    client.close();
  });

  it("answers UNIMPLEMENTED from a handler that says so", async () => {
    const client = createClient(RegistryService, host.address);
    await assert.rejects(client.getKeys({}), (error: ImeifedError) => error.code === Code.UNIMPLEMENTED);
    client.close();
  });

  it("serves the health service", async () => {
    const { Client, credentials } = await import("@grpc/grpc-js");
    const grpcClient = new Client(host.address, credentials.createInsecure());
    // grpc.health.v1.HealthCheckRequest { service: "" } is the empty message.
    const status = await new Promise<Buffer>((resolve, reject) =>
      grpcClient.makeUnaryRequest("/grpc.health.v1.Health/Check", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), new Metadata(), (e, r) => (e ? reject(e) : resolve(r!))),
    );
    // HealthCheckResponse { status: SERVING (1) } = field 1 varint 1.
    assert.deepEqual([...status], [0x08, 0x01]);
    grpcClient.close();
  });

  it("serves server reflection: the hosted services are listed", async () => {
    const { Client, credentials } = await import("@grpc/grpc-js");
    const grpcClient = new Client(host.address, credentials.createInsecure());
    const identity = (b: Buffer) => b;
    const call = grpcClient.makeBidiStreamRequest("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", identity, identity, new Metadata());
    // ServerReflectionRequest { list_services (field 7) = "" }
    call.write(Buffer.from([0x3a, 0x00]));
    call.end();
    const chunks: Buffer[] = [];
    for await (const chunk of call) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("latin1");
    assert.match(text, /imeifed\.v1\.RegistryService/);
    assert.match(text, /imeifed\.v1\.FederationService/);
    grpcClient.close();
  });

  it("refuses to listen on a non-loopback address without TLS", async () => {
    await assert.rejects(startHost({ listen: "0.0.0.0:0", services: [] }), (error: ImeifedError) => error.reason === "INSECURE_LISTEN");
  });
});

describe("ImeifedError across module copies", () => {
  it("is recognised by instanceof even when thrown by a second copy of the module", async () => {
    // A query string makes the loader evaluate the module again, as a second copy.
    const copy = (await import(`../../errors/imeifed-error.js?copy=${Date.now()}`)) as typeof import("../../errors/imeifed-error.js");
    assert.notEqual(copy.ImeifedError, ImeifedError);
    const thrown = new copy.ImeifedError(Code.PERMISSION_DENIED, "NOT_YOUR_RECORD", "not yours");
    assert.ok(thrown instanceof ImeifedError);
    assert.equal(ImeifedError.from(thrown).code, Code.PERMISSION_DENIED);
    assert.equal(new Error("plain") instanceof ImeifedError, false);
  });
});
