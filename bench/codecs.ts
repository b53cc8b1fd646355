/**
 * The hand-written codecs against protobuf-es's own, on the messages each
 * one carries (issue 19 item 3): a hand codec stays only where it beats
 * `toBinary`/`fromBinary` by more than the run-to-run spread.
 *
 * Each pair runs in this process on the same input, alternately, for several
 * rounds after a warm-up; time is this process's CPU time (so another process
 * on the machine does not count), and each figure is the median round's rate
 * of the hand codec against the median round's rate of protobuf-es. The
 * general side is what the server or client would do without the hand codec:
 * `fromBinary` plus the contract's text check for requests a server decodes,
 * `create` + `toBinary` for what it encodes.
 */
import { create, fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { DeviceStatus } from "../gen/imeifed/v1/device_pb.js";
import { ScreenRequestSchema } from "../gen/imeifed/v1/federation_pb.js";
import {
  CheckDevicesRequestSchema,
  CheckDevicesResponseSchema,
  CheckDevicesStreamRequestSchema,
  CheckDevicesStreamResponseSchema,
} from "../gen/imeifed/v1/registry_pb.js";
import { decodeCheckDevicesResponse } from "../gateway/upstream/check-devices-decoder.js";
import { encodeCheckDevicesRequest } from "../gateway/upstream/check-devices-request-encoder.js";
import { decodeCheckDevicesStreamResponse, encodeCheckDevicesStreamRequest } from "../gateway/upstream/check-stream-codec.js";
import { readScreenRequest } from "../gateway/screening/screen-request-reader.js";
import { requestDeserializer } from "../rpc/request-decoding.js";
import { serializerFor } from "../rpc/service-definition.js";
import { encodeCheckDevicesResponse } from "../services/registry/check-devices-encoder.js";
import { encodeCheckDevicesStreamResponse } from "../services/registry/check-devices-stream-codec.js";
import { ratioFigure, type BenchFigure, type BenchSuite } from "./figure.js";

export interface CodecsOptions {
  /** CPU milliseconds each side runs per round (default 300). */
  roundMs?: number;
  /** Rounds per side, alternating (default 7). */
  rounds?: number;
}

interface Pair {
  readonly name: string;
  /** What one operation handles, for the rate's unit. */
  readonly unit: string;
  readonly hand: () => unknown;
  readonly general: () => unknown;
}

function imeiAt(i: number): string {
  return `35693803${String(100_000 + i).padStart(6, "0")}`;
}

const sixtySeconds = { seconds: 60n, nanos: 0 };

/** A server's request decoder as the server runs it: decode, then the contract's text check unless the decoder did it. */
function serverDecoder(schema: DescMessage, decode: (bytes: Buffer) => unknown): (bytes: Buffer) => unknown {
  return requestDeserializer(schema, decode);
}

function pairs(): Pair[] {
  const out: Pair[] = [];

  // The gateway writes CheckDevicesRequests: a screening's 10,000 IMEIs, a lookup's few.
  for (const n of [10_000, 5]) {
    const imeis = Array.from({ length: n }, (_, i) => imeiAt(i));
    // A fresh list each time, on both sides: the hand encoder remembers the bytes of a list it encoded (a chunk goes to five registries).
    const init = () => ({ imeis: imeis.slice(), purpose: "DEC-2026-0001", listedOnly: n > 5 });
    const general = serializerFor(CheckDevicesRequestSchema);
    out.push({ name: `gateway encodes CheckDevicesRequest, ${n.toLocaleString("en")} IMEIs`, unit: "messages/CPU-s", hand: () => encodeCheckDevicesRequest(init()), general: () => general(init()) });
  }

  // The registry writes CheckDevicesResponses: a lookup batch's full answer (all unlisted), a screening's sparse one.
  const full = create(CheckDevicesResponseSchema, {
    checks: Array.from({ length: 256 }, (_, i) => ({ deviceKey: imeiAt(i).slice(0, 14), status: DeviceStatus.PERMITTED, cacheMaxAge: sixtySeconds })),
  });
  const sparse = create(CheckDevicesResponseSchema, { checks: [], listedIndexes: [17, 4_211], unlistedCacheMaxAge: sixtySeconds });
  for (const [label, message] of [["full, 256 unlisted", full], ["sparse, 10,000 asked, none listed", sparse]] as const) {
    const general = serializerFor(CheckDevicesResponseSchema);
    out.push({ name: `registry encodes CheckDevicesResponse, ${label}`, unit: "messages/CPU-s", hand: () => encodeCheckDevicesResponse(message), general: () => general(message) });
    // The gateway reads them.
    const bytes = serializerFor(CheckDevicesResponseSchema)(message);
    out.push({ name: `gateway decodes CheckDevicesResponse, ${label}`, unit: "messages/CPU-s", hand: () => decodeCheckDevicesResponse(bytes), general: () => fromBinary(CheckDevicesResponseSchema, bytes) });
  }

  // CheckDevicesStream envelopes: a lookup's one device, each way.
  const question = { id: 42n, batch: { imeis: [imeiAt(1)], purpose: "case GB-1", listedOnly: false } };
  const answer = create(CheckDevicesStreamResponseSchema, {
    id: 42n,
    result: { case: "checks", value: { checks: [{ deviceKey: imeiAt(1).slice(0, 14), status: DeviceStatus.PERMITTED, cacheMaxAge: sixtySeconds }] } },
  });
  const answerBytes = serializerFor(CheckDevicesStreamResponseSchema)(answer);
  const generalQuestion = serializerFor(CheckDevicesStreamRequestSchema);
  const generalAnswer = serializerFor(CheckDevicesStreamResponseSchema);
  out.push(
    { name: "gateway encodes a stream question, 1 IMEI", unit: "messages/CPU-s", hand: () => encodeCheckDevicesStreamRequest(question), general: () => generalQuestion(question) },
    { name: "registry encodes a stream answer, 1 check", unit: "messages/CPU-s", hand: () => encodeCheckDevicesStreamResponse(answer), general: () => generalAnswer(answer) },
    { name: "gateway decodes a stream answer, 1 check", unit: "messages/CPU-s", hand: () => decodeCheckDevicesStreamResponse(answerBytes), general: () => fromBinary(CheckDevicesStreamResponseSchema, answerBytes) },
  );

  // The gateway reads Screen requests: a thousand manifest items a message.
  const screenBytes = serializerFor(ScreenRequestSchema)({
    message: {
      case: "items",
      value: { items: Array.from({ length: 1_000 }, (_, i) => ({ deviceId: imeiAt(i), declaredMake: "Samsung", declaredModel: "Galaxy S24", lineReference: `L${i + 1}` })) },
    },
  });
  const screenHand = serverDecoder(ScreenRequestSchema, readScreenRequest);
  const screenGeneral = serverDecoder(ScreenRequestSchema, (b) => fromBinary(ScreenRequestSchema, b));
  out.push({ name: "gateway decodes ScreenRequest, 1,000 items", unit: "messages/CPU-s", hand: () => screenHand(screenBytes), general: () => screenGeneral(screenBytes) });
  return out;
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Operations per CPU-second of `op`, run for about `ms` CPU milliseconds. */
function rate(op: () => unknown, ms: number): number {
  let sink: unknown;
  let count = 0;
  const start = cpuMs();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 16; i++) sink = op();
    count += 16;
    now = cpuMs();
  }
  if (sink === Symbol.for("never")) console.error(sink);
  return (count * 1000) / (now - start);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function codecsSuite(options: CodecsOptions = {}): Promise<BenchSuite> {
  const { roundMs = 300, rounds = 7 } = options;
  const figures: BenchFigure[] = [];
  for (const pair of pairs()) {
    // Warm both sides until V8 has optimised them.
    rate(pair.hand, roundMs);
    rate(pair.general, roundMs);
    const hand: number[] = [];
    const general: number[] = [];
    for (let r = 0; r < rounds; r++) {
      hand.push(rate(pair.hand, roundMs));
      general.push(rate(pair.general, roundMs));
    }
    const ratios = hand.map((h, i) => h / general[i]!).sort((a, b) => a - b);
    const spread = `rounds ${ratios[0]!.toFixed(2)}–${ratios.at(-1)!.toFixed(2)}x`;
    figures.push(
      ratioFigure(`${pair.name} (hand codec; ${spread})`, median(hand), pair.unit, { name: "protobuf-es, same input, alternating rounds", value: median(general), unit: pair.unit }),
    );
  }
  return { suite: "codecs", figures };
}
