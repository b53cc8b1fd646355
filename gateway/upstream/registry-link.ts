/**
 * One upstream of the gateway: a national registry (or another gateway
 * standing where a registry stands), reached over long-lived channels, guarded
 * by its own circuit breaker, and called under the gateway's identity with an
 * `act` claim naming the real requester.
 */
import type { ChannelCredentials, Interceptor } from "@grpc/grpc-js";
import { FederationService } from "../../gen/imeifed/v1/federation_pb.js";
import { RegistryService, type DeviceCheck } from "../../gen/imeifed/v1/registry_pb.js";
import type { DeviceKey } from "../../device/index.js";
import type { BatchGroup } from "./registry-batcher.js";
import { createClient, type Client, type WireCodecs } from "../../rpc/index.js";
import type { Actor, Scope } from "../../trust/principal.js";
import { decodeCheckDevicesResponse } from "./check-devices-decoder.js";
import { encodeCheckDevicesRequest } from "./check-devices-request-encoder.js";
import { bulkAnswerOf, type BulkAnswer } from "../federation/bulk-answer.js";
import { decodeCheckDevicesStreamResponse, encodeCheckDevicesStreamRequest } from "./check-stream-codec.js";
import { CircuitBreaker, type CircuitState } from "./circuit-breaker.js";
import type { GatewayConfig, UpstreamConfig } from "../config.js";
import { tlsChannelOptions } from "../../trust/tls.js";
import { Code } from "../../errors/index.js";
import { isStreamBroken } from "./check-stream.js";
import { CheckStreamPool } from "./check-stream-pool.js";

const CHECK_SCOPES: Scope[] = ["devices:check"];
/** The largest batch sent on a stream: the interactive path's batches; bulk batches amortise a call's cost themselves. */
const STREAM_MAX_KEYS = 256;
/** How long a registry that lacks CheckDevicesStream is asked by calls before the stream is tried again. */
const STREAMS_OFF_MS = 5 * 60_000;
/** A batch whose stream broke is retried as a call only with at least this much of its deadline left. */
const MIN_RETRY_BUDGET_MS = 20;

/**
 * Mints the gateway's own tokens for upstream calls (trust/token-minter.ts's
 * TokenMinter fits it); `act` names the real requester of a delegated call.
 */
export interface UpstreamTokenMinter {
  token(request: { audience: string; scopes: Scope[]; act?: Actor }): Promise<string>;
}

export interface RegistryLinkOptions {
  upstream: UpstreamConfig;
  config: Pick<GatewayConfig, "breaker" | "deadlines">;
  minter: UpstreamTokenMinter;
  /** TLS towards the upstream (trust/tls.ts's channelCredentials); plaintext when absent. */
  credentials?: ChannelCredentials;
  /** Client interceptors (tracing) for every channel. */
  interceptors?: Interceptor[];
  /** Told of circuit state changes (metrics). */
  onCircuitState?: (country: string, state: CircuitState) => void;
}

/** One upstream registry (or hub) as the gateway sees it. */
export class RegistryLink {
  /** The country it answers for (for a hub: its label). */
  readonly country: string;
  /** Its principal id: the audience of the gateway's tokens for it. */
  readonly id: string;
  readonly kind: UpstreamConfig["kind"];
  readonly address: string;
  readonly upstream: UpstreamConfig;
  readonly breaker: CircuitBreaker;
  /** The most devices one CheckDevices may carry. */
  readonly batchLimit: number;
  /** The cap on one upstream call's deadline. */
  readonly timeoutMs: number;
  readonly #clients: Client<typeof RegistryService>[];
  readonly #hubs: Client<typeof FederationService>[];
  readonly #minter: UpstreamTokenMinter;
  #next = 0;
  /** The open CheckDevicesStreams, one per requester (registry upstreams only). */
  readonly #streams: CheckStreamPool | undefined;
  /** Until when batches go by calls because the registry has no stream method. */
  #streamsOffUntil = 0;

  constructor(options: RegistryLinkOptions) {
    const { upstream } = options;
    this.country = upstream.country;
    this.id = upstream.id;
    this.kind = upstream.kind;
    this.address = upstream.address;
    this.upstream = upstream;
    this.batchLimit = upstream.batchLimit;
    this.timeoutMs = upstream.timeoutMs ?? options.config.deadlines.upstreamMaxMs;
    this.#minter = options.minter;
    this.breaker = new CircuitBreaker({
      failureThreshold: options.config.breaker.failureThreshold,
      coolDownMs: options.config.breaker.coolDownMs,
      onStateChange: (state) => options.onCircuitState?.(this.country, state),
    });
    const clientOptions = { ...(options.credentials ? { credentials: options.credentials } : {}), ...(options.interceptors ? { interceptors: options.interceptors } : {}) };
    // Separate channels need distinct channel arguments, or grpc-js shares one subchannel between them.
    // The TLS server name, when the certificate names something other than the address dialled.
    const tlsOptions = upstream.tls ? tlsChannelOptions(upstream.tls) : {};
    const channel = (i: number) => ({ ...clientOptions, channelOptions: { ...tlsOptions, "imeifed.channel_index": i } });
    const n = upstream.channels;
    // CheckDevices answers are the gateway's most read messages: decoded by hand (see check-devices-decoder.ts).
    const codecs: WireCodecs<typeof RegistryService> = {
      checkDevices: { request: { encode: encodeCheckDevicesRequest }, response: { decode: decodeCheckDevicesResponse } },
      checkDevicesStream: { request: { encode: encodeCheckDevicesStreamRequest }, response: { decode: decodeCheckDevicesStreamResponse } },
    };
    this.#clients = upstream.kind === "registry" ? Array.from({ length: n }, (_, i) => createClient(RegistryService, upstream.address, { ...channel(i), codecs })) : [];
    this.#streams = upstream.kind === "registry" ? new CheckStreamPool(() => this.client, { serverAddress: upstream.address }) : undefined;
    this.#hubs = upstream.kind === "gateway" ? Array.from({ length: n }, (_, i) => createClient(FederationService, upstream.address, channel(i))) : [];
  }

  /** Whether this link answers for `country` (its own, or one a hub federates). */
  answersFor(country: string): boolean {
    return this.country === country || this.upstream.countries.includes(country);
  }

  /** The RegistryService client, round-robin over the link's channels. Throws for a hub upstream. */
  get client(): Client<typeof RegistryService> {
    const c = this.#clients[this.#next++ % Math.max(1, this.#clients.length)];
    if (!c) throw new Error(`upstream ${this.country} is a gateway, not a registry`);
    return c;
  }

  /** The FederationService client of a hub upstream. Throws for a registry upstream. */
  get hub(): Client<typeof FederationService> {
    const c = this.#hubs[this.#next++ % Math.max(1, this.#hubs.length)];
    if (!c) throw new Error(`upstream ${this.country} is a registry, not a gateway`);
    return c;
  }

  /**
   * Request metadata for a call on behalf of `requester` (or as the gateway
   * itself when absent): a bearer token with an `act` claim, which the minter
   * reuses until it is near expiry.
   */
  async metadata(requester?: Actor, scopes: Scope[] = CHECK_SCOPES): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.#token(requester, scopes)}` };
  }

  #token(requester: Actor | undefined, scopes: Scope[]): Promise<string> {
    return this.#minter.token({ audience: this.id, scopes, ...(requester ? { act: requester } : {}) });
  }

  /**
   * Asks the registry about `keys` for `group`'s requester and purpose: one
   * DeviceCheck per key, in order. Interactive-sized batches travel on the
   * requester's CheckDevicesStream (a message on an open stream costs a
   * fraction of a new call); larger ones, whose call cost is shared by
   * thousands of devices, and any batch when the registry has no stream
   * method or the stream broke under it, as a CheckDevices call.
   */
  async checkDevices(keys: DeviceKey[], group: BatchGroup, deadline: Date): Promise<DeviceCheck[]> {
    const token = await this.#token(group.requester, CHECK_SCOPES);
    if (keys.length <= STREAM_MAX_KEYS && this.#streams && Date.now() >= this.#streamsOffUntil) {
      try {
        return await this.#streams.streamFor(group.requester, token).check(keys, group.purpose, deadline);
      } catch (error) {
        if (!isStreamBroken(error)) throw error;
        // An older registry without the stream method: ask it by calls for a while.
        if (error.code === Code.UNIMPLEMENTED) this.#streamsOffUntil = Date.now() + STREAMS_OFF_MS;
        if (deadline.getTime() - Date.now() < MIN_RETRY_BUDGET_MS) throw error;
      }
    }
    const response = await this.client.checkDevices({ imeis: keys, purpose: group.purpose }, { deadline, metadata: { authorization: `Bearer ${token}` } });
    return response.checks;
  }

  /**
   * Asks the registry about a bulk chunk of `keys` (screening) by one
   * CheckDevices call asking for a sparse answer (`listed_only`): only the
   * listed devices' checks come back. A registry that predates the flag
   * answers in full; either shape is returned, checked against the question.
   */
  async checkDevicesInBulk(keys: readonly DeviceKey[], group: BatchGroup, deadline: Date): Promise<BulkAnswer> {
    const token = await this.#token(group.requester, CHECK_SCOPES);
    // The list itself, not a copy: every registry asked about a chunk gets the same list, encoded once (check-devices-request-encoder.ts); nothing writes to it.
    const imeis = keys as DeviceKey[];
    const response = await this.client.checkDevices({ imeis, purpose: group.purpose, listedOnly: true }, { deadline, metadata: { authorization: `Bearer ${token}` } });
    return bulkAnswerOf(response, keys.length);
  }

  /** Closes the link's streams and channels. */
  close(): void {
    this.#streams?.close();
    for (const c of this.#clients) c.close();
    for (const c of this.#hubs) c.close();
  }
}
