/**
 * The tripwire: every PROHIBITED or TRACKED hit a foreign partner gets (from
 * Lookup or Screen) is sent to the registry that owns the record as a sighting,
 * so the reporting police learn where their stolen phone surfaced, as
 * CheckMEND's alerts tell UK police today.
 *
 * It runs beside the caller's path, never on it: `hit` only filters and
 * enqueues (no await, no throw); a drain loop sends what is queued, grouped by
 * owning registry and partner, in RecordSightings calls of up to `batchSize`
 * (a customs screening can hit a thousand stolen phones in a minute: one call
 * and one durable commit per phone cost the owning registry ~1 ms of CPU each,
 * more than it spends answering the whole screening's questions about them),
 * a few calls at once, each with its own deadline. The queue is
 * bounded: when it is full a sighting is dropped and counted, because a slow
 * or dead registry must never slow a police lookup or a customs screening.
 * Repeats of one (device, registry, partner, kind) within `repeatWindowMs` are
 * sent once: a partner re-checking the same phone every minute tells the
 * owning agency nothing new.
 *
 * "Foreign" means the requester's country differs from the registry's: a
 * country's own police checking their own register is not news to it. A
 * network attach is news at home too (the hit says `atHome`), and carries
 * its operator's own repeat window.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { LRUCache } from "lru-cache";
import { deviceFromKey, mask } from "../../device/index.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import type { RecordSightingRequestSchema } from "../../gen/imeifed/v1/registry_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Actor } from "../../trust/principal.js";
import type { GatewayContext, Tripwire, TripwireHit } from "../gateway-context.js";
import { Code, ImeifedError } from "../../errors/index.js";

/** One sighting on its way to one owning registry. */
export interface PendingSighting {
  readonly country: string;
  readonly requester: Actor;
  readonly request: MessageInitShape<typeof RecordSightingRequestSchema>;
}

/**
 * Delivers sightings to one owning registry on behalf of one partner (every
 * one of `batch` has the same `country` and requester); rejects when it could not.
 */
export type SightingSender = (batch: readonly PendingSighting[]) => Promise<void>;

export interface TripwireOptions {
  send: SightingSender;
  /** Sightings waiting to be sent; beyond it, new ones are dropped (default 10,000). */
  maxQueued?: number;
  /** Sightings sent in one call (default 500). */
  batchSize?: number;
  /** Calls under way at once (default 4). */
  maxInFlight?: number;
  /**
   * How long the first hit waits for others before the queue is sent (default
   * 250 ms; 0: at the next turn): a screening's hits arrive a few per chunk,
   * and without the wait nearly every one would still take its own call. A
   * call costs the registry ~1 ms of CPU however many sightings it carries
   * (its durable commit), and blocks it meanwhile.
   */
  lingerMs?: number;
  /** One (device, registry, partner, kind) is sent once per window (default 60 s; 0 sends every hit). */
  repeatWindowMs?: number;
  /** Told of each failed delivery (a batch; for the operator's log, IMEIs masked). */
  onFailure?: (batch: readonly PendingSighting[], error: unknown) => void;
  now?: () => number;
}

/** What the tripwire did, for metrics and tests. */
export interface TripwireStats {
  /** Sightings accepted into the queue. */
  queued: number;
  /** Delivered to the owning registry. */
  sent: number;
  /** Delivery failed (registry down, refused, too slow). */
  failed: number;
  /** Dropped because the queue was full. */
  dropped: number;
  /** Skipped as repeats within the window. */
  repeats: number;
}

const LISTED = new Set([DeviceStatus.PROHIBITED, DeviceStatus.TRACKED]);

/** How long a registry that lacks RecordSightings is sent one RecordSighting a sighting before it is tried again. */
const ONE_BY_ONE_MS = 10 * 60_000;

/** The queue and drain loop behind `GatewayContext.tripwire`. */
export class RegistryTripwire implements Tripwire {
  readonly stats: TripwireStats = { queued: 0, sent: 0, failed: 0, dropped: 0, repeats: 0 };
  readonly #send: SightingSender;
  readonly #maxQueued: number;
  readonly #batchSize: number;
  readonly #maxInFlight: number;
  readonly #lingerMs: number;
  readonly #now: () => number;
  readonly #onFailure: TripwireOptions["onFailure"];
  readonly #repeatWindowMs: number;
  readonly #recent: LRUCache<string, true>;
  #queue: PendingSighting[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(options: TripwireOptions) {
    this.#send = options.send;
    this.#maxQueued = options.maxQueued ?? 10_000;
    this.#batchSize = Math.max(1, options.batchSize ?? 500);
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 4);
    this.#lingerMs = Math.max(0, options.lingerMs ?? 250);
    this.#now = options.now ?? Date.now;
    this.#onFailure = options.onFailure;
    this.#repeatWindowMs = Math.max(0, options.repeatWindowMs ?? 60_000);
    // No ttlAutopurge: entries expire when read, which is all a repeat check needs. Bounded: past
    // 50,000 (device, registry, partner, kind) the least recent is forgotten, and may be sent again.
    this.#recent = new LRUCache({ max: 50_000, ttlResolution: 0, perf: { now: () => this.#now() } });
  }

  /** Queues a sighting for every owning registry of a foreign partner's hit; returns at once and never throws. */
  hit(hit: TripwireHit): void {
    try {
      if (this.#closed) return;
      const seenAt = timestampFromDate(new Date(this.#now()));
      let imei: string | undefined;
      for (const registryFinding of hit.findings) {
        const finding = registryFinding.finding;
        if (!finding || !LISTED.has(finding.status)) continue;
        const country = finding.country;
        if (country === "" || (country === hit.requester.country && !hit.atHome)) continue;
        const repeatKey = `${country}|${hit.key}|${hit.requester.id}|${hit.kind}`;
        const window = hit.repeatWindowMs ?? this.#repeatWindowMs;
        if (window > 0 && this.#recent.has(repeatKey)) {
          this.stats.repeats++;
          continue;
        }
        if (this.#queue.length >= this.#maxQueued) {
          this.stats.dropped++;
          continue;
        }
        if (window > 0) this.#recent.set(repeatKey, true, { ttl: window });
        imei ??= deviceFromKey(hit.key).imei;
        this.#queue.push({
          country,
          requester: hit.requester,
          request: {
            imei,
            kind: hit.kind,
            seenInCountry: hit.requester.country,
            partnerKind: hit.requester.kind,
            partnerId: hit.requester.id,
            seenAt,
            purpose: hit.purpose,
          },
        });
        this.stats.queued++;
      }
      if (this.#queue.length > 0 && !this.#draining) this.#draining = this.#drain();
    } catch (error) {
      // A tripwire fault must not fail the lookup that tripped it.
      this.#onFailure?.([{ country: "", requester: hit.requester, request: {} }], error);
    }
  }

  async #drain(): Promise<void> {
    // Leave the caller's turn first (the hit's answer goes out before any sighting), and let a few more hits gather.
    await new Promise<void>((resolve) => (this.#lingerMs > 0 ? setTimeout(resolve, this.#lingerMs) : setImmediate(resolve)));
    try {
      while (this.#queue.length > 0) {
        // At most `maxInFlight` calls' worth at a time; the rest (and what arrives meanwhile) waits its turn.
        const batches = this.#batchesOf(this.#queue.splice(0, this.#batchSize * this.#maxInFlight));
        let next = 0;
        const worker = async () => {
          while (next < batches.length) {
            const batch = batches[next++]!;
            try {
              await this.#send(batch);
              this.stats.sent += batch.length;
            } catch (error) {
              this.stats.failed += batch.length;
              this.#onFailure?.(batch, error);
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(this.#maxInFlight, batches.length) }, worker));
      }
    } finally {
      this.#draining = undefined;
    }
  }

  /** Sightings grouped by owning registry and partner (in queue order within each), cut to `batchSize`. */
  #batchesOf(sightings: readonly PendingSighting[]): PendingSighting[][] {
    const groups = new Map<string, PendingSighting[]>();
    for (const s of sightings) {
      const group = `${s.country}|${s.requester.id}`;
      const list = groups.get(group);
      if (list) list.push(s);
      else groups.set(group, [s]);
    }
    const batches: PendingSighting[][] = [];
    for (const list of groups.values()) {
      for (let from = 0; from < list.length; from += this.#batchSize) batches.push(list.slice(from, from + this.#batchSize));
    }
    return batches;
  }

  /** Resolves when everything queued so far has been sent or has failed (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  /** Stops taking hits and waits for the queue to drain. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }
}

/**
 * A sender over the gateway's links: RecordSightings under the gateway's
 * identity, on behalf of the partner. A registry from before RecordSightings
 * answers UNIMPLEMENTED; it is then sent RecordSighting calls, one a
 * sighting, for ten minutes (it may be upgraded meanwhile), as the gateway
 * treats a registry without CheckDevicesStream.
 */
export function linkSightingSender(gw: Pick<GatewayContext, "linkFor">, timeoutMs: number, now: () => number = Date.now): SightingSender {
  const oneByOneUntil = new Map<string, number>();
  return async (batch) => {
    const { country, requester } = batch[0]!;
    const link = gw.linkFor(country);
    if (!link || link.kind !== "registry") throw new Error(`no registry link for ${country}`);
    const metadata = await link.metadata(requester, ["devices:found"]);
    if ((oneByOneUntil.get(country) ?? 0) <= now()) {
      try {
        await link.client.recordSightings({ sightings: batch.map((s) => s.request) }, { deadline: timeoutMs, metadata });
        return;
      } catch (error) {
        if (ImeifedError.from(error).code !== Code.UNIMPLEMENTED) throw error;
        oneByOneUntil.set(country, now() + ONE_BY_ONE_MS);
      }
    }
    for (const { request } of batch) await link.client.recordSighting(request, { deadline: timeoutMs, metadata });
  };
}

/** The tripwire a gateway runs: sightings go to the owning registries over the gateway's links. */
export function createTripwire(gw: Pick<GatewayContext, "linkFor" | "config">, options: Partial<Omit<TripwireOptions, "send">> = {}): RegistryTripwire {
  return new RegistryTripwire({
    send: linkSightingSender(gw, gw.config.deadlines.upstreamMaxMs),
    onFailure: (batch, error) =>
      console.error(
        JSON.stringify({
          level: "warn",
          msg: "tripwire sightings not delivered",
          country: batch[0]?.country,
          sightings: batch.length,
          imeis: batch.slice(0, 3).map((s) => (typeof s.request.imei === "string" ? mask(s.request.imei) : "")),
          error: (error as Error)?.message ?? String(error),
        }),
      ),
    ...options,
  });
}
