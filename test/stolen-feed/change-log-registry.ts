/**
 * A RegistryService that serves only WatchChanges, from an in-memory change
 * log, over a real socket: enough to exercise the feed's follower (reconnects,
 * epochs, back-pressure, cancellation) where the real registry would make the
 * test slow or cannot be driven into the state under test (a new epoch with a
 * known history). The end-to-end tests use the real registry fixture.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ChangeKind, ChangeSchema, RegistryService, type Change } from "../../gen/imeifed/v1/registry_pb.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createClient, hosted, startHost, type RunningHost, type ServiceImpl } from "../../rpc/index.js";
import type { ChangeSource } from "../../gateway/stolen-feed/registry-change-follower.js";

const unimplemented = async (): Promise<never> => {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "not in this test registry");
};
// eslint-disable-next-line require-yield
async function* unimplementedStream(): AsyncIterable<never> {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "not in this test registry");
}

/** What a test appends: a report or a clearing of one device. */
export interface TestChange {
  kind: "REPORTED" | "CLEARED";
  deviceKey: string;
  statusAfter: DeviceStatus;
  /** The changed record's verification. */
  verified: boolean;
  /** Whether the finding holding the device after the change is verified (default: `verified`). */
  holdVerified?: boolean;
}

export class ChangeLogRegistry {
  epoch: string;
  readonly changes: Change[] = [];
  /** WatchChanges calls currently open (so tests can prove cancellation releases them). */
  openStreams = 0;
  /** Every WatchChanges request received, in order. */
  readonly requests: Array<{ afterSequence: bigint; epoch: string }> = [];
  #host: RunningHost | undefined;
  #port = 0;
  #wake = new Set<() => void>();

  constructor(
    readonly country: string,
    epoch = `epoch-${country}-1`,
  ) {
    this.epoch = epoch;
  }

  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  get running(): boolean {
    return this.#host !== undefined;
  }

  /** Appends a change, attesting it with a recognisable fake attestation, and wakes the streams. */
  append(change: TestChange): Change {
    const sequence = BigInt(this.changes.length + 1);
    const holdVerified = change.holdVerified ?? change.verified;
    const value = create(ChangeSchema, {
      sequence,
      kind: change.kind === "REPORTED" ? ChangeKind.REPORTED : ChangeKind.CLEARED,
      deviceKey: change.deviceKey,
      status: change.statusAfter,
      verified: change.verified,
      recordId: `${this.country}-r${sequence}`,
      changedAt: timestampFromDate(new Date()),
      attestation: `attestation-of-${this.country}-${sequence}`,
      ...(change.statusAfter === DeviceStatus.PERMITTED
        ? {}
        : { finding: { country: this.country, deviceKey: change.deviceKey, status: change.statusAfter, verified: holdVerified } }),
    });
    this.changes.push(value);
    for (const wake of this.#wake) wake();
    return value;
  }

  /** Forgets its history and takes a new epoch, as a registry whose database was replaced. */
  newEpoch(epoch: string): void {
    this.epoch = epoch;
    this.changes.length = 0;
  }

  /** Starts serving (on the same port as before when restarted). */
  async start(): Promise<void> {
    const impl: ServiceImpl<typeof RegistryService> = {
      watchChanges: (request, ctx) => this.#watch(request, ctx.signal),
      reportDevice: unimplemented,
      clearDevice: unimplemented,
      checkDevice: unimplemented,
      checkDevices: unimplemented,
      checkDevicesStream: unimplementedStream,
      recordSighting: unimplemented,
      recordSightings: unimplemented,
      watchSightings: unimplementedStream,
      getKeys: unimplemented,
    };
    this.#host = await startHost({ listen: `127.0.0.1:${this.#port}`, services: [hosted(RegistryService, impl)] });
    this.#port = this.#host.port;
  }

  /** Stops serving, cutting open streams (as a crash would). */
  async stop(): Promise<void> {
    const host = this.#host;
    this.#host = undefined;
    await host?.shutdown(0);
  }

  /** A change source as the feed uses it, over its own client; close() the returned client after the test. */
  source(): ChangeSource & { close(): void } {
    const client = createClient(RegistryService, this.address);
    return {
      country: this.country,
      watchChanges: (request, options) => client.watchChanges(request, options),
      close: () => client.close(),
    };
  }

  async *#watch(request: { afterSequence: bigint; epoch: string; fromHead: boolean; headBacklog: bigint }, signal: AbortSignal) {
    this.requests.push({ afterSequence: request.afterSequence, epoch: request.epoch });
    if (request.epoch !== "" && request.epoch !== this.epoch) {
      throw new ImeifedError(Code.FAILED_PRECONDITION, "EPOCH_CHANGED", `epoch ${request.epoch} is not this registry's (${this.epoch}); resume from 0`);
    }
    if (request.afterSequence > BigInt(this.changes.length)) {
      throw new ImeifedError(Code.FAILED_PRECONDITION, "SEQUENCE_AHEAD", "after_sequence is beyond the last change; resume from 0");
    }
    this.openStreams++;
    const epoch = this.epoch;
    // from_head with a backlog: the last head_backlog changes, never before after_sequence (as the real registry).
    let next = request.fromHead ? Math.max(Number(request.afterSequence), this.changes.length - Number(request.headBacklog)) : Number(request.afterSequence);
    let wake: () => void = () => {};
    const onAbort = () => wake();
    signal.addEventListener("abort", onAbort);
    try {
      while (next < this.changes.length) yield { epoch, event: { case: "change" as const, value: this.changes[next++]! } };
      yield { epoch, event: { case: "caughtUp" as const, value: { sequence: BigInt(next) } } };
      while (!signal.aborted) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          this.#wake.add(resolve);
          if (next < this.changes.length || signal.aborted) resolve();
        });
        this.#wake.delete(wake);
        while (next < this.changes.length && !signal.aborted) yield { epoch, event: { case: "change" as const, value: this.changes[next++]! } };
      }
    } finally {
      this.#wake.delete(wake);
      signal.removeEventListener("abort", onAbort);
      this.openStreams--;
    }
  }
}
