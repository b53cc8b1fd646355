/**
 * The N5g-eir front as the gateway runs it: the listener (n5g-eir-server.ts)
 * over the request handler (equipment-status-handler.ts) over the
 * equipment check, all sharing the gateway's checker, token gate,
 * admission, quotas, tripwire and audit log (no extra hop, one budget).
 */
import type { EquipmentCheckEvent, EquipmentCheckOptions } from "../equipment-check.js";
import { EquipmentCheck } from "../equipment-check.js";
import { createEquipmentStatusHandler, type EquipmentStatusHandlerOptions } from "./equipment-status-handler.js";
import type { N5gEirConfig } from "./n5g-eir-config.js";
import { startN5gEirListener, type N5gEirListener } from "./n5g-eir-server.js";

/** How N5g-eir checks are named in the gateway's audit, and to the registries. */
export const N5G_EIR_FRONT = { method: "N5gEir.GetEquipmentStatus", purpose: "n5g-eir" } as const;

export interface N5gEirFrontOptions extends Omit<EquipmentCheckOptions, "front" | "onAnswer">, Pick<EquipmentStatusHandlerOptions, "gate" | "admission" | "quota"> {
  readonly config: N5gEirConfig;
  /** Told of every answer (logs, metrics); the IMEI and the subscriber are not in it. */
  readonly onAnswer?: (event: EquipmentCheckEvent) => void;
}

/** Starts serving N5g-eir; `close` answers 503 to what still arrives, then stops. */
export async function startN5gEirFront(options: N5gEirFrontOptions): Promise<N5gEirListener> {
  const { config } = options;
  let serving = true;
  const check = new EquipmentCheck({ ...options, front: N5G_EIR_FRONT });
  const handler = createEquipmentStatusHandler({ gate: options.gate, admission: options.admission, quota: options.quota, check, policy: config, serving: () => serving });
  const listener = await startN5gEirListener(config, handler);
  return {
    address: listener.address,
    port: listener.port,
    url: listener.url,
    get connections() {
      return listener.connections;
    },
    close(graceMs) {
      serving = false;
      return listener.close(graceMs);
    },
  };
}
