/**
 * Starts the fronts the gateway config's `networks` section names, in the
 * gateway's process and over its own checker, token gate, admission,
 * quotas, tripwire and audit (gateway/gateway-server.ts calls it), and stops
 * them with the gateway.
 */
import type { GatewayMetrics } from "../gateway/gateway-context.js";
import type { EquipmentCheckEvent } from "./equipment-check.js";
import type { NetworksConfig } from "./networks-config.js";
import { startN5gEirFront, type N5gEirFrontOptions } from "./n5g-eir/n5g-eir-front.js";
import type { N5gEirListener } from "./n5g-eir/n5g-eir-server.js";
import { startS13Front, type RunningS13Server } from "./s13/index.js";
import type { TrustStore } from "../trust/trust-store.js";
import { createLogger, type Logger } from "../observability/logger.js";

export interface NetworkFrontsOptions extends Omit<N5gEirFrontOptions, "config" | "onAnswer"> {
  readonly config: NetworksConfig;
  readonly metrics?: GatewayMetrics | undefined;
  /** Told of every answer (default: a warning line on stderr for answers a policy gave, so an outage's WHITELISTED answers are visible). */
  readonly onAnswer?: (front: string, event: EquipmentCheckEvent) => void;
  /** The trust file: S13 peers carry no token, so their operator principals are looked up by id. */
  readonly trust: Pick<TrustStore, "principal">;
  /** Where the S13 front logs (default: JSON lines on stderr). */
  readonly logger?: Logger | undefined;
}

/** The running fronts. */
export interface NetworkFronts {
  readonly n5gEir?: N5gEirListener;
  readonly s13?: RunningS13Server;
  /** Stops every front (open connections get `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

/** A policy's answer, logged: no IMEI, no subscriber, only who asked, what was answered and which registries were silent. */
function logPolicyAnswer(front: string, event: EquipmentCheckEvent): void {
  if (event.basis !== "unanswered-policy" && event.basis !== "invalid-imei-policy") return;
  console.error(JSON.stringify({ level: "warn", msg: "equipment check answered by operator policy", front, operator: event.operator, status: event.status, basis: event.basis, unanswered: event.unanswered, elapsedMs: event.elapsedMs }));
}

export async function startNetworkFronts(options: NetworkFrontsOptions): Promise<NetworkFronts> {
  const { config, metrics, onAnswer = logPolicyAnswer, trust, logger, ...shared } = options;
  const answered = (front: string) => (event: EquipmentCheckEvent) => {
    metrics?.equipmentCheck?.(event.status, event.basis);
    onAnswer(front, event);
  };
  const n5gEir = config.n5gEir ? await startN5gEirFront({ ...shared, config: config.n5gEir, onAnswer: answered("n5g-eir") }) : undefined;
  let s13: RunningS13Server | undefined;
  try {
    s13 = config.s13
      ? await startS13Front({
          config: config.s13,
          trust,
          equipment: { checker: shared.checker, tripwire: shared.tripwire, audit: shared.audit, server: shared.server, onAnswer: answered("s13") },
          admission: shared.admission,
          quota: shared.quota,
          log: logger ?? createLogger("gateway"),
        })
      : undefined;
  } catch (error) {
    await n5gEir?.close(0);
    throw error;
  }
  return {
    ...(n5gEir ? { n5gEir } : {}),
    ...(s13 ? { s13 } : {}),
    async close(graceMs) {
      await Promise.all([n5gEir?.close(graceMs), s13?.close(graceMs)]);
    },
  };
}
