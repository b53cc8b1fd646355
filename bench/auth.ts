/**
 * The cost of authentication on the lookup path (issue 5): how many calls per
 * second the authentication interceptor admits when the token is remembered
 * (the verified-token cache) and when every call brings a new token (a full
 * ES256 signature check), against a bare grpc-js unary call measured in the
 * same run. Runs in one process: the interceptor is called directly, so the
 * figure is its own CPU cost, not the client's.
 */
import { Metadata } from "@grpc/grpc-js";
import { RegistryService } from "../gen/imeifed/v1/registry_pb.js";
import { ContextValues, createClient, hosted, startHost, type CallContext, type ServiceImpl } from "../rpc/index.js";
import { createAuthenticator } from "../trust/authenticator.js";
import { createTestTrust } from "../test/support/trust-fixture.js";
import { Code, ImeifedError } from "../errors/index.js";
import { ratioFigure, type BenchSuite } from "./figure.js";

export interface AuthBenchOptions {
  /** How long each figure is measured (default 3 s). */
  durationMs?: number;
  /** Distinct tokens minted for the signature-check figure (default 4,000). */
  freshTokens?: number;
}

function contextWith(token: string): CallContext {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return {
    service: "imeifed.v1.FederationService",
    method: "Lookup",
    methodKind: "unary",
    requestMetadata: metadata,
    responseTrailer: new Metadata(),
    deadline: undefined,
    signal: new AbortController().signal,
    peer: "bench",
    values: new ContextValues(),
    awaitingCallerSince: () => undefined,
    abort: () => undefined,
  };
}

/** Runs `op` repeatedly, `concurrency` at a time, for `durationMs`; resolves to ops per second. */
async function rate(op: (i: number) => Promise<unknown>, durationMs: number, concurrency = 64, limit = Number.POSITIVE_INFINITY): Promise<number> {
  let done = 0;
  const started = performance.now();
  const until = started + durationMs;
  async function worker(): Promise<void> {
    while (performance.now() < until && done < limit) await op(done++);
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / ((performance.now() - started) / 1000);
}

const notHere = async (): Promise<never> => {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "bench");
};
// eslint-disable-next-line require-yield
async function* notHereStream(): AsyncIterable<never> {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "bench");
}

/** A bare unary call over loopback with the same adapter: the scale the auth cost is read against. */
async function bareCallRate(durationMs: number): Promise<number> {
  const impl: ServiceImpl<typeof RegistryService> = {
    getKeys: async () => ({ country: "GB" }),
    reportDevice: notHere,
    clearDevice: notHere,
    checkDevice: notHere,
    checkDevices: notHere,
    checkDevicesStream: notHereStream,
    recordSighting: notHere,
    recordSightings: notHere,
    watchChanges: notHereStream,
    watchSightings: notHereStream,
  };
  const host = await startHost({ listen: "127.0.0.1:0", services: [hosted(RegistryService, impl)] });
  const client = createClient(RegistryService, host.address);
  try {
    await client.getKeys({});
    return await rate(() => client.getKeys({}), durationMs);
  } finally {
    client.close();
    await host.shutdown(100);
  }
}

export async function authSuite(options: AuthBenchOptions = {}): Promise<BenchSuite> {
  const durationMs = options.durationMs ?? 3_000;
  const trust = await createTestTrust();
  try {
    const authenticate = createAuthenticator({ trust: trust.trust, audience: "gateway", scopes: { Lookup: "devices:check" } });
    const next = async () => {};
    const remembered = await trust.token("police-es", { audience: "gateway", scopes: ["devices:check"] });
    const fresh = await Promise.all(
      Array.from({ length: options.freshTokens ?? 4_000 }, (_, i) => trust.token("police-es", { audience: "gateway", scopes: ["devices:check"], ttlSec: 600 + (i % 3000) })),
    );
    const bare = await bareCallRate(durationMs);
    const cachedRate = await rate(() => authenticate(contextWith(remembered), next), durationMs);
    const uncachedRate = await rate((i) => authenticate(contextWith(fresh[i % fresh.length]!), next), durationMs, 64, fresh.length);
    const baseline = { name: "bare grpc-js unary call, 64 in flight, same process", value: Math.round(bare), unit: "calls/s" };
    return {
      suite: "auth",
      figures: [
        ratioFigure("authenticate a remembered token (verified-token cache)", Math.round(cachedRate), "calls/s", baseline, {
          text: ">= 10x the bare call rate (auth adds under a tenth of a call's cost)",
          met: (x) => x >= 10,
        }),
        ratioFigure("authenticate a new token each call (ES256 signature check)", Math.round(uncachedRate), "calls/s", baseline),
      ],
    };
  } finally {
    await trust.cleanup();
  }
}
