/**
 * Starts one country's registry: opens (and migrates) its store, loads its
 * attestation key, and serves RegistryService behind the audit log, the
 * authenticator and the quotas, with health and reflection from startHost.
 * SIGTERM handling lives in the CLI command; `shutdown()` is what it calls.
 */
import { existsSync } from "node:fs";
import type { JSONWebKeySet, JWK } from "jose";
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { hosted, startHost, type ServerInterceptor } from "../../rpc/index.js";
import { shareStreamBudget } from "../../rpc/stream-budget.js";
import { Admission } from "../../trust/admission.js";
import { AttestationSigner } from "../../trust/attestation.js";
import { createAuditInterceptor, type AuditLog } from "../../trust/audit/index.js";
import { createAuthenticator } from "../../trust/authenticator.js";
import { generatePrincipalKeys, readPrivateJwk, writePrivateJwk } from "../../trust/keys.js";
import { createQuotaInterceptor, QuotaLimiter } from "../../trust/quota.js";
import { serverCredentials } from "../../trust/tls.js";
import { TrustStore } from "../../trust/trust-store.js";
import { encodeCheckDevicesResponse } from "./check-devices-encoder.js";
import { encodeCheckDevicesStreamResponse } from "./check-devices-stream-codec.js";
import { RegistryAttestations } from "./registry-attestations.js";
import { parseRegistryConfig, type RegistryConfig, type RegistryConfigInput } from "./registry-config.js";
import type { RegistryContext } from "./registry-context.js";
import { openRegistryAudit, siblingOf } from "./registry-audit.js";
import { createRegistryService, REGISTRY_CHANGE_METHODS, REGISTRY_METHOD_SCOPES } from "./registry-service.js";
import { openStore } from "./store/open-store.js";
import type { RegistryStore } from "./store/registry-store.js";

/** A config (validated or not) plus what a caller may hand over already built. */
export type RegistryOptions = (RegistryConfigInput | RegistryConfig) & {
  /** An already loaded trust store (tests, the demo); otherwise `trustFile` is loaded. */
  readonly trust?: TrustStore;
  /** More interceptors, run after authentication and quotas (a test's call counter). */
  readonly interceptors?: readonly ServerInterceptor[];
  /** Interceptors that run before everything else, so they see refused calls too (tracing). */
  readonly outerInterceptors?: readonly ServerInterceptor[];
  /** The clock its handlers read (epoch ms; tests move it instead of sleeping). */
  readonly now?: () => number;
};

/** A running registry. */
export interface RunningRegistry {
  /** `host:port` it listens on. */
  readonly address: string;
  readonly port: number;
  readonly country: string;
  /** Its principal id (token audience, attestation issuer). */
  readonly id: string;
  readonly store: RegistryStore;
  /** The public keys that verify its attestations. */
  readonly jwks: JSONWebKeySet;
  readonly config: RegistryConfig;
  readonly audit: AuditLog;
  /** Stops taking calls, ends open streams with UNAVAILABLE, lets running calls finish (up to `graceMs`), then closes the store. */
  shutdown(graceMs?: number): Promise<void>;
}

const META_ATTESTATION_KEY = "attestation_private_jwk";

/** The attestation key: the configured file (generated there if missing), beside the SQLite file, or kept in the PostgreSQL schema. */
async function attestationKeyOf(config: RegistryConfig, store: RegistryStore): Promise<JWK> {
  const file = config.attestationKey ?? ("sqlite" in config.db ? siblingOf(config.db.sqlite, ".attestation.private.jwk.json") : undefined);
  if (file !== undefined) {
    if (existsSync(file)) return readPrivateJwk(file);
    const { privateJwk } = await generatePrincipalKeys(config.id);
    await writePrivateJwk(file, privateJwk);
    return privateJwk;
  }
  // Several processes share one PostgreSQL schema: the first to start makes the key, all use it.
  const { privateJwk } = await generatePrincipalKeys(config.id);
  return JSON.parse(await store.metaSetIfAbsent(META_ATTESTATION_KEY, JSON.stringify(privateJwk))) as JWK;
}

function configOf(options: RegistryOptions): RegistryConfig {
  const { trust: _trust, interceptors: _interceptors, outerInterceptors: _outerInterceptors, now: _now, ...input } = options;
  return parseRegistryConfig(input);
}

/** Starts a registry; see the module comment. */
export async function startRegistry(options: RegistryOptions): Promise<RunningRegistry> {
  const config = configOf(options);
  if (!options.trust && config.trustFile === undefined) {
    throw new ImeifedError(Code.INVALID_ARGUMENT, "BAD_CONFIG", "trustFile: name the trust file (principals and their keys) so the registry can tell who calls");
  }
  const trust = options.trust ?? (await TrustStore.load(config.trustFile!));
  const credentials = config.tls ? await serverCredentials(config.tls) : undefined;
  const store = await openStore(config.db, { country: config.country, caseTokenSecret: config.caseTokenSecret });
  let audit: AuditLog | undefined;
  try {
    const signer = await AttestationSigner.create({ issuer: config.id, privateJwk: await attestationKeyOf(config, store) });
    audit = await openRegistryAudit(config, store);
    const quota = config.quotas ? new QuotaLimiter(config.quotas) : undefined;
    let closing = false;
    const rc: RegistryContext = {
      country: config.country,
      id: config.id,
      store,
      attestations: new RegistryAttestations(signer, config.country, store),
      sharing: config.sharing,
      batchLimit: config.batchLimit,
      cacheMaxAgeSec: config.cacheMaxAgeSec,
      quota,
      closing: () => closing,
      now: options.now ?? Date.now,
    };
    const admission = new Admission(config.admission);
    const interceptors: ServerInterceptor[] = [
      ...(options.outerInterceptors ?? []),
      // First of ours, so that it sees how every call ended, refusals included.
      // A change's entry is on disk before its answer (in the change's own transaction when the log is in the store).
      createAuditInterceptor(audit, { server: config.id, durableMethods: REGISTRY_CHANGE_METHODS }),
      // The raw change stream carries every record (verified or not, every TAC): for gateways
      // and the registry's own administrators; manufacturers get their filtered feed from the
      // gateway's WatchStolen.
      createAuthenticator({ trust, audience: config.id, scopes: REGISTRY_METHOD_SCOPES, kinds: { WatchChanges: ["gateway", "admin"] } }),
      // Right after the caller is known and before any work: past its limits a call is refused at once.
      admission.interceptor(),
      ...(quota ? [createQuotaInterceptor(quota)] : []),
      ...(options.interceptors ?? []),
    ];
    const host = await startHost({
      listen: config.listen,
      // Check answers are encoded by hand (equal to protobuf-es, and cheaper: bench/codecs.ts): the registry's most written messages.
      services: [
        hosted(RegistryService, createRegistryService(rc), {
          checkDevices: { response: { encode: encodeCheckDevicesResponse } },
          checkDevicesStream: { response: { encode: encodeCheckDevicesStreamResponse } },
        }),
      ],
      interceptors,
      ...(credentials ? { credentials } : {}),
      allowInsecureNonLoopback: config.allowInsecure,
      connections: config.connections,
      channelOptions: admission.serverOptions,
    });
    shareStreamBudget(host.server, admission.streamBudget);
    const auditLog = audit;
    let stopped: Promise<void> | undefined;
    return {
      address: host.address,
      port: host.port,
      country: config.country,
      id: config.id,
      store,
      jwks: signer.publicJwks(),
      config,
      audit: auditLog,
      shutdown(graceMs = 5_000) {
        stopped ??= (async () => {
          closing = true;
          const hostStopped = host.shutdown(graceMs);
          // Wake every open stream: each sees `closing` and ends with UNAVAILABLE.
          store.changeFeed.notify();
          store.sightingFeed.notify();
          await hostStopped;
          await auditLog.close();
          await store.close();
        })();
        return stopped;
      },
    };
  } catch (error) {
    await audit?.close().catch(() => {});
    await store.close().catch(() => {});
    throw error;
  }
}
