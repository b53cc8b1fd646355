/**
 * The first step of screening a chunk, run in manifest order as the chunk
 * starts: what can be told before asking anyone (MALFORMED, DUPLICATE, a
 * declared make the TAC data contradicts), and the devices to ask the
 * registries about, in parallel arrays (no object per item).
 */
import { ScreeningOutcome } from "../../gen/imeifed/v1/federation_pb.js";
import { deviceFromKey, parseDevice, type Device, type DeviceKey, type TacDatabase } from "../../device/index.js";
import { makesAgree } from "../../manifest/declared-make.js";
import type { Chunk } from "./chunking.js";
import { findingResponse, type ScreenResponseInit } from "./finding-response.js";
import { SeenDevices } from "./seen-devices.js";

/** A chunk's items sorted: findings known before asking, and the devices to ask about. */
export interface ClassifiedChunk {
  readonly early: { index: number; response: ScreenResponseInit; outcome: ScreeningOutcome }[];
  /** Per device to ask about: its item's offset in the chunk, and its key. */
  readonly offsets: Int32Array;
  readonly keys: DeviceKey[];
  /** The same keys as numbers (the seen-devices table and the gateway's tables key on them). */
  readonly keyNumbers: Float64Array;
  /** By device position, only where parseDevice ran (not plain digits); others build their Device from the key when they need it. */
  readonly devices: Device[] | undefined;
  /** By device position: the declared make disagrees with the TAC's. */
  readonly mismatches: Map<number, string> | undefined;
}

/** Classifies one manifest's chunks, in order: it remembers every device seen so far (DUPLICATE). */
export class ChunkClassifier {
  readonly #seen = new SeenDevices();

  constructor(private readonly tac: Pick<TacDatabase, "lookup"> | undefined) {}

  classify(chunk: Chunk): ClassifiedChunk {
    const { start } = chunk;
    const early: ClassifiedChunk["early"] = [];
    const offsets = new Int32Array(chunk.length);
    const keys: DeviceKey[] = [];
    const keyNumbers = new Float64Array(chunk.length);
    let devices: Device[] | undefined;
    let mismatches: Map<number, string> | undefined;
    let offset = 0;
    for (const { batch, from, to } of chunk.parts) {
      for (let i = from; i < to; i++, offset++) {
        const index = start + offset;
        // Plain digits (nearly every item) are keyed without a Device; anything else goes through parseDevice, which says what is wrong.
        let keyNumber = batch.keyNumberAt(i);
        let key: DeviceKey;
        let device: Device | undefined;
        if (keyNumber >= 0) {
          key = batch.plainKeyAt(i);
        } else {
          const parsed = parseDevice(batch.deviceIdAt(i), "device_id");
          if (!parsed.ok) {
            const outcome = ScreeningOutcome.MALFORMED;
            early.push({ index, outcome, response: findingResponse(outcome, index, batch.itemAt(i), parsed.error.message) });
            continue;
          }
          device = parsed.device;
          key = device.key;
          keyNumber = Number(key);
        }
        const first = this.#seen.firstSeen(keyNumber, index);
        if (first !== undefined) {
          const outcome = ScreeningOutcome.DUPLICATE;
          early.push({ index, outcome, response: findingResponse(outcome, index, batch.itemAt(i), `same device as item ${first} earlier in the manifest`, device ?? deviceFromKey(key)) });
          continue;
        }
        const at = keys.length;
        const mismatch = this.#makeMismatch(key, batch.declaredMakeAt(i));
        if (mismatch !== undefined) (mismatches ??= new Map()).set(at, mismatch);
        if (device) (devices ??= [])[at] = device;
        offsets[at] = offset;
        keys.push(key);
        keyNumbers[at] = keyNumber;
      }
    }
    return { early, offsets: offsets.subarray(0, keys.length), keys, keyNumbers: keyNumbers.subarray(0, keys.length), devices, mismatches };
  }

  /** What is wrong with the declared make, when the TAC data names another; undefined when they agree or either is unknown. */
  #makeMismatch(key: DeviceKey, declared: string): string | undefined {
    if (!this.tac) return undefined;
    const declaredMake = declared.trim();
    if (declaredMake === "") return undefined;
    const tac = key.slice(0, 8);
    const known = this.tac.lookup(tac);
    if (!known || makesAgree(known.make, declaredMake)) return undefined;
    return `TAC ${tac} is ${known.make}${known.model ? ` ${known.model}` : ""}, declared ${JSON.stringify(declaredMake)}`;
  }
}
