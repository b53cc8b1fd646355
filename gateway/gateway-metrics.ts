/**
 * The gateway's metric instruments as its parts see them
 * (observability/metrics.ts supplies them). A type of its own, so the parts
 * that record (the federation paths, the network fronts) need not import the
 * whole GatewayContext.
 */
import type { ScreeningOutcome } from "../gen/imeifed/v1/federation_pb.js";

/** The gateway's metric instruments (observability/metrics.ts); every method is optional so a partial API fits. */
export interface GatewayMetrics {
  lookup?(verdict: string): void;
  cacheHit?(country: string, count?: number): void;
  cacheMiss?(country: string, count?: number): void;
  upstreamLatency?(country: string, ms: number, outcome: string): void;
  circuitState?(country: string, state: "closed" | "open" | "half-open"): void;
  /** `items` screened manifest items with this outcome; their rate is the screening throughput. */
  screened?(outcome: ScreeningOutcome, items: number): void;
  /** A mobile network's equipment check answered (networks/), by status and basis. */
  equipmentCheck?(status: string, basis: string): void;
}
