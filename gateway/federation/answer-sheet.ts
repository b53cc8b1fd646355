/**
 * The answers being gathered for a list of devices while the registries are
 * asked (the lookup path, the bulk path and the hub link write here). Arrays
 * are made only for the devices that get a finding or an unanswered registry,
 * and counters are typed arrays: on a million-item manifest nearly every
 * device has neither.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { DeviceKey } from "../../device/index.js";
import type { Finding } from "../../gen/imeifed/v1/device_pb.js";
import { RegistryFindingSchema, type RegistryFinding, type Unanswered } from "../../gen/imeifed/v1/federation_pb.js";
import type { FederatedAnswer } from "./federated-answer.js";
import type { CacheHits, CachedAnswer } from "../cache/finding-cache.js";
import { isListed } from "../lookup/verdict.js";

/** The bulk path's answers by position (screening's `ChunkAnswers`). */
export interface BulkAnswers {
  findingsAt(i: number): readonly RegistryFinding[];
  unansweredAt(i: number): readonly Unanswered[];
  /** Whether every upstream's answer about device `i` came from a cache. */
  fromCacheAt(i: number): boolean;
}

/** Shared by the answers that have no finding or no unanswered registry (read-only: never pushed to). */
const NONE: never[] = Object.freeze([]) as unknown as never[];

export class AnswerSheet implements BulkAnswers, CacheHits {
  readonly #size: number;
  /** Made at the first finding (or unanswered registry): nearly every chunk of a manifest has a few, many have none. */
  #findings: (RegistryFinding[] | undefined)[] | undefined;
  #unanswered: (Unanswered[] | undefined)[] | undefined;
  readonly #cached: Uint16Array;
  readonly #ageMs: Float64Array;
  /** Upstreams asked about every device (one per target). */
  #asked = 0;

  constructor(size: number) {
    this.#size = size;
    this.#cached = new Uint16Array(size);
    this.#ageMs = new Float64Array(size);
  }

  askedOneMore(): void {
    this.#asked += 1;
  }

  finding(i: number, finding: RegistryFinding): void {
    ((this.#findings ??= new Array<RegistryFinding[] | undefined>(this.#size))[i] ??= []).push(finding);
  }

  /** A registry's fresh answer listed device `i`. */
  listed(i: number, finding: Finding): void {
    this.finding(i, create(RegistryFindingSchema, { finding, stale: false, age: durationFromMs(0) }));
  }

  unanswered(i: number, unanswered: Unanswered): void {
    ((this.#unanswered ??= new Array<Unanswered[] | undefined>(this.#size))[i] ??= []).push(unanswered);
  }

  /**
   * A registry could not answer about device `i`: it is listed unanswered, and
   * its earlier PROHIBITED / TRACKED answer (`held`, from the cache) still
   * counts, marked stale with its age.
   */
  failed(i: number, unanswered: Unanswered, held: CachedAnswer | undefined): void {
    this.unanswered(i, unanswered);
    if (held?.finding && isListed(held.status)) {
      const age = Date.now() - held.answeredAt;
      this.age(i, age);
      this.finding(i, create(RegistryFindingSchema, { finding: held.finding, stale: true, age: durationFromMs(age) }));
    }
  }

  /** The cache answered device `i` for one upstream (`CacheHits`). */
  hit(i: number, ageMs: number, finding: Finding | undefined): void {
    this.fromCache(i);
    this.age(i, ageMs);
    if (finding) this.finding(i, create(RegistryFindingSchema, { finding, stale: false, age: durationFromMs(ageMs) }));
  }

  /** One upstream's answer for device `i` came from the cache (or a hub's cache). */
  fromCache(i: number): void {
    this.#cached[i] = this.#cached[i]! + 1;
  }

  age(i: number, ageMs: number): void {
    if (ageMs > this.#ageMs[i]!) this.#ageMs[i] = ageMs;
  }

  /** Device `i`'s findings (a shared frozen empty list when none). */
  findingsAt(i: number): readonly RegistryFinding[] {
    return this.#findings?.[i] ?? NONE;
  }

  /** Device `i`'s unanswered registries (a shared frozen empty list when none). */
  unansweredAt(i: number): readonly Unanswered[] {
    return this.#unanswered?.[i] ?? NONE;
  }

  fromCacheAt(i: number): boolean {
    return this.#asked > 0 && this.#cached[i] === this.#asked;
  }

  /** The answers in key order, each with lists of its own. */
  answers(keys: readonly DeviceKey[]): FederatedAnswer[] {
    const out = new Array<FederatedAnswer>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      out[i] = {
        key: keys[i]!,
        findings: this.#findings?.[i] ?? [],
        unanswered: this.#unanswered?.[i] ?? [],
        fromCache: this.fromCacheAt(i),
        ageMs: this.#ageMs[i]!,
      };
    }
    return out;
  }
}
