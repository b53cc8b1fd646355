/**
 * One Screen message's manifest items, read by position.
 *
 * Why not an array of ManifestItem: a million-item manifest made a million
 * item objects and two or three strings each, all alive while their chunk
 * waited on the registries, and copying them between the young generation's
 * halves was the largest single cost of a cold screening's gateway (garbage
 * collection). Nearly every item is clear and needs nothing but its key, so
 * a batch decoded from bytes keeps the message's text and each field's span,
 * with each plain item's key as a number; a string is cut for a key when it
 * is asked for, and an item object only for an item that becomes a finding.
 */
import type { ManifestItem } from "../../gen/imeifed/v1/federation_pb.js";
import { plainDeviceKey, type DeviceKey } from "../../device/index.js";

export interface ManifestBatch {
  readonly length: number;
  /** Item i's device key as a number when its device id is plain digits `parseDevice` accepts (`plainDeviceKey`), else -1. */
  keyNumberAt(i: number): number;
  /** The 14-digit device key of item i; only for an item whose `keyNumberAt(i)` is not -1. */
  plainKeyAt(i: number): DeviceKey;
  /** Item i's device identifier as printed on the manifest. */
  deviceIdAt(i: number): string;
  /** Item i's declared make ("" when none). */
  declaredMakeAt(i: number): string;
  /** Item i as a message (built when asked: a finding names its item). */
  itemAt(i: number): ManifestItem;
}

/** Fields of an item, in span order: device_id (1), declared_make (2), declared_model (3), line_reference (4). */
const DEVICE_ID = 0;
const DECLARED_MAKE = 1;
const DECLARED_MODEL = 2;
const LINE_REFERENCE = 3;
/** Uint32 words per item: a start and an end per field. */
export const SPAN_WORDS = 8;

/**
 * Items decoded from an ASCII message: `text` is the whole message as latin1
 * (one byte a character), `spans` holds each item's field spans in it (an
 * empty span: the field is absent or empty), `keyNumbers` each item's plain key.
 */
export class ManifestTextBatch implements ManifestBatch {
  constructor(
    private readonly text: string,
    private readonly spans: Uint32Array,
    private readonly keyNumbers: Float64Array,
    readonly length: number,
  ) {}

  keyNumberAt(i: number): number {
    return this.keyNumbers[i]!;
  }

  plainKeyAt(i: number): DeviceKey {
    const start = this.spans[i * SPAN_WORDS]!;
    return this.text.substring(start, start + 14) as DeviceKey;
  }

  #field(i: number, field: number): string {
    const at = i * SPAN_WORDS + 2 * field;
    const start = this.spans[at]!;
    const end = this.spans[at + 1]!;
    return start === end ? "" : this.text.substring(start, end);
  }

  deviceIdAt(i: number): string {
    return this.#field(i, DEVICE_ID);
  }

  declaredMakeAt(i: number): string {
    return this.#field(i, DECLARED_MAKE);
  }

  itemAt(i: number): ManifestItem {
    return {
      $typeName: "imeifed.v1.ManifestItem",
      deviceId: this.#field(i, DEVICE_ID),
      declaredMake: this.#field(i, DECLARED_MAKE),
      declaredModel: this.#field(i, DECLARED_MODEL),
      lineReference: this.#field(i, LINE_REFERENCE),
    };
  }

  /** Every item as a message (what `fromBinary` would have made). */
  items(): ManifestItem[] {
    return Array.from({ length: this.length }, (_, i) => this.itemAt(i));
  }
}

/** Items already made as messages (a message that was not plain ASCII, tests). */
export class ManifestItemsBatch implements ManifestBatch {
  constructor(private readonly items: readonly ManifestItem[]) {}

  get length(): number {
    return this.items.length;
  }

  keyNumberAt(i: number): number {
    return plainDeviceKey(this.items[i]!.deviceId);
  }

  plainKeyAt(i: number): DeviceKey {
    const id = this.items[i]!.deviceId;
    return (id.length === 14 ? id : id.slice(0, 14)) as DeviceKey;
  }

  deviceIdAt(i: number): string {
    return this.items[i]!.deviceId;
  }

  declaredMakeAt(i: number): string {
    return this.items[i]!.declaredMake;
  }

  itemAt(i: number): ManifestItem {
    return this.items[i]!;
  }
}

/** A batch of either kind; an array of items is read through `ManifestItemsBatch`. */
export function manifestBatchOf(batch: ManifestBatch | readonly ManifestItem[]): ManifestBatch {
  return Array.isArray(batch) ? new ManifestItemsBatch(batch) : (batch as ManifestBatch);
}
