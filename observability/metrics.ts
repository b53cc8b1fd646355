/**
 * The federation's named metrics, behind a small typed API that the gateway,
 * registries, screening and trust code call (`metrics.lookup(verdict)`, ...).
 *
 * Until `startTelemetry` installs a meter, every method is an empty function:
 * code may call them on its hottest paths (one call per screened batch, per
 * lookup) without a measurable cost when nobody reads the metrics.
 */
import { ValueType, type Attributes, type Meter } from "@opentelemetry/api";
import { ScreeningOutcome, Verdict } from "../gen/imeifed/v1/federation_pb.js";

/** A registry link's circuit breaker state as reported (gateway/circuit-breaker.ts spells it `half-open`). */
export type CircuitState = "closed" | "open" | "half_open" | "half-open";
/** The states the gauge reports, in the attribute spelling of OpenTelemetry (snake_case). */
export const CIRCUIT_STATES = ["closed", "open", "half_open"] as const;
type ReportedCircuitState = (typeof CIRCUIT_STATES)[number];

/**
 * How an upstream call to a registry ended: `ok`, or the stable reason of the
 * ImeifedError it failed with (`DEADLINE_EXCEEDED`, `UNAVAILABLE`, ...).
 * Values are lower-cased; past a bound, new ones are counted as `other` so a
 * bug cannot flood the backend with series.
 */
export type UpstreamOutcome = string;

/** Distinct values one label may take before further ones become `other`. */
export const MAX_LABEL_VALUES = 256;

/** The instruments of imeifed, named for what operators ask of a federation. */
export interface ImeifedMetrics {
  /** One federated lookup answered, by its verdict (the enum, or its name as gateway/verdict.ts's verdictName gives it). */
  lookup(verdict: Verdict | string): void;
  /** `items` screened manifest items with this outcome; their rate is the screening throughput. */
  screened(outcome: ScreeningOutcome, items?: number): void;
  /** Verdict cache hits, per registry whose answer was cached (pass `count` to count a batch at once). */
  cacheHit(country?: string, count?: number): void;
  /** Verdict cache misses, per registry. */
  cacheMiss(country?: string, count?: number): void;
  /** How long one upstream call to a registry took, and how it ended. */
  upstreamLatency(country: string, ms: number, outcome: UpstreamOutcome): void;
  /** The breaker of the registry of `country` is now in `state` (call it on every transition). */
  circuitState(country: string, state: CircuitState): void;
  /** A call refused by authentication or authorisation, by the error's stable reason. */
  authFailure(reason: string): void;
  /** One mobile network's equipment check answered (networks/), by its status and why (`finding`, `not-listed`, `unanswered-policy`, `invalid-imei-policy`). */
  equipmentCheck(status: string, basis: string): void;
  /** One served RPC (recorded by the server tracing interceptor). */
  rpcServer(service: string, method: string, code: number, ms: number): void;
  /** One upstream RPC (recorded by the client tracing interceptor). */
  rpcClient(service: string, method: string, code: number, ms: number): void;
}

/** Metric names, exported so dashboards, alerts and tests name the same series. */
export const METRIC = {
  lookups: "imeifed.lookups",
  equipmentChecks: "imeifed.equipment_checks",
  screeningItems: "imeifed.screening.items",
  cacheRequests: "imeifed.cache.requests",
  upstreamDuration: "imeifed.upstream.duration",
  circuitState: "imeifed.registry.circuit.state",
  authFailures: "imeifed.auth.failures",
  rpcServerDuration: "rpc.server.duration",
  rpcClientDuration: "rpc.client.duration",
} as const;

/** Attribute keys of the metrics above. */
export const METRIC_ATTRIBUTE = {
  verdict: "imeifed.verdict",
  equipmentStatus: "imeifed.equipment.status",
  equipmentBasis: "imeifed.equipment.basis",
  screeningOutcome: "imeifed.screening.outcome",
  cacheResult: "imeifed.cache.result",
  country: "imeifed.registry.country",
  upstreamOutcome: "imeifed.upstream.outcome",
  circuitState: "imeifed.circuit.state",
  authReason: "imeifed.auth.reason",
} as const;

/** Milliseconds: registry calls are expected in the 1 ms to 3 s band (3 s is CheckMEND's advised timeout). */
const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];

/** The last known state of each breaker; kept even while silent, so a meter installed later reports it. */
const circuitStates = new Map<string, ReportedCircuitState>();

function normalState(state: CircuitState): ReportedCircuitState {
  return state === "half-open" ? "half_open" : state;
}

/** "MODEL_MISMATCH" -> "model_mismatch"; values a newer contract adds still get a label. */
function enumLabel(names: Record<number, string>, value: number): string {
  return names[value]?.toLowerCase() ?? `value_${value}`;
}

/** A verdict given as the enum, `PROHIBITED` or `VERDICT_PROHIBITED`, as one label. */
function verdictLabel(verdict: Verdict | string): string {
  return typeof verdict === "number" ? enumLabel(Verdict, verdict) : verdict.toLowerCase().replace(/^verdict_/, "");
}

/** Keeps a free-form label (error reasons, countries) to a bounded set of values. */
function boundedLabels(): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= MAX_LABEL_VALUES) return "other";
    seen.add(value);
    return value;
  };
}

/** Attribute objects are built once per distinct value, not on every call. */
function memo<K>(build: (key: K) => Attributes): (key: K) => Attributes {
  const cache = new Map<K, Attributes>();
  return (key) => {
    let attributes = cache.get(key);
    if (!attributes) {
      attributes = Object.freeze(build(key));
      cache.set(key, attributes);
    }
    return attributes;
  };
}

/** Instruments on `meter`; tests pass a meter of their own provider, processes use `installMetrics`. */
export function createMetrics(meter: Meter, states: Map<string, ReportedCircuitState> = new Map()): ImeifedMetrics {
  const lookups = meter.createCounter(METRIC.lookups, { description: "Federated lookups answered, by verdict", unit: "{lookup}", valueType: ValueType.INT });
  const equipmentChecks = meter.createCounter(METRIC.equipmentChecks, { description: "Mobile networks' equipment checks answered, by status and basis", unit: "{check}", valueType: ValueType.INT });
  const equipmentAttributes = memo((key: string) => {
    const [status, basis] = key.split("\u0000") as [string, string];
    return { [METRIC_ATTRIBUTE.equipmentStatus]: status, [METRIC_ATTRIBUTE.equipmentBasis]: basis };
  });
  const screening = meter.createCounter(METRIC.screeningItems, { description: "Manifest items screened, by outcome", unit: "{item}", valueType: ValueType.INT });
  const cache = meter.createCounter(METRIC.cacheRequests, { description: "Verdict cache look-ups, by hit or miss", unit: "{request}", valueType: ValueType.INT });
  const upstream = meter.createHistogram(METRIC.upstreamDuration, {
    description: "Duration of upstream calls to a registry, by country and outcome",
    unit: "ms",
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });
  const auth = meter.createCounter(METRIC.authFailures, { description: "Calls refused by authentication or authorisation, by reason", unit: "{call}", valueType: ValueType.INT });
  const rpcOptions = { unit: "ms", advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS } };
  const rpcServerDuration = meter.createHistogram(METRIC.rpcServerDuration, { ...rpcOptions, description: "Duration of served RPCs" });
  const rpcClientDuration = meter.createHistogram(METRIC.rpcClientDuration, { ...rpcOptions, description: "Duration of outgoing RPCs" });
  const circuit = meter.createObservableGauge(METRIC.circuitState, {
    description: "1 for the current state of each registry's circuit breaker, 0 for the others",
    valueType: ValueType.INT,
  });
  const circuitAttributes = memo((key: string) => {
    const [country, state] = key.split("\u0000") as [string, ReportedCircuitState];
    return { [METRIC_ATTRIBUTE.country]: country, [METRIC_ATTRIBUTE.circuitState]: state };
  });
  circuit.addCallback((result) => {
    for (const [country, current] of states) {
      for (const state of CIRCUIT_STATES) result.observe(state === current ? 1 : 0, circuitAttributes(`${country}\u0000${state}`));
    }
  });

  const verdictAttributes = memo((v: string) => ({ [METRIC_ATTRIBUTE.verdict]: v }));
  const outcomeAttributes = memo((o: ScreeningOutcome) => ({ [METRIC_ATTRIBUTE.screeningOutcome]: enumLabel(ScreeningOutcome, o) }));
  const countryLabel = boundedLabels();
  const cacheAttributes = memo((key: string) => {
    const [result, country] = key.split("\u0000") as [string, string];
    return country ? { [METRIC_ATTRIBUTE.cacheResult]: result, [METRIC_ATTRIBUTE.country]: country } : { [METRIC_ATTRIBUTE.cacheResult]: result };
  });
  const outcomeLabel = boundedLabels();
  const upstreamAttributes = memo((key: string) => {
    const [country, outcome] = key.split("\u0000") as [string, string];
    return { [METRIC_ATTRIBUTE.country]: country, [METRIC_ATTRIBUTE.upstreamOutcome]: outcome };
  });
  const reasonLabel = boundedLabels();
  const authAttributes = memo((reason: string) => ({ [METRIC_ATTRIBUTE.authReason]: reason }));
  const rpcAttributes = memo((key: string) => {
    const [service, method, code] = key.split("\u0000") as [string, string, string];
    return { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method, "rpc.grpc.status_code": Number(code) };
  });

  return {
    lookup: (verdict) => lookups.add(1, verdictAttributes(verdictLabel(verdict))),
    screened: (outcome, items = 1) => screening.add(items, outcomeAttributes(outcome)),
    // Both labels come from closed lists (networks/equipment-check.ts), so the series stay bounded.
    equipmentCheck: (status, basis) => equipmentChecks.add(1, equipmentAttributes(`${status}\u0000${basis}`)),
    cacheHit: (country, count = 1) => cache.add(count, cacheAttributes(`hit\u0000${country ? countryLabel(country) : ""}`)),
    cacheMiss: (country, count = 1) => cache.add(count, cacheAttributes(`miss\u0000${country ? countryLabel(country) : ""}`)),
    upstreamLatency: (country, ms, outcome) => upstream.record(ms, upstreamAttributes(`${countryLabel(country)}\u0000${outcomeLabel(outcome.toLowerCase())}`)),
    circuitState: (country, state) => void states.set(country, normalState(state)),
    authFailure: (reason) => auth.add(1, authAttributes(reasonLabel(reason))),
    rpcServer: (service, method, code, ms) => rpcServerDuration.record(ms, rpcAttributes(`${service}\u0000${method}\u0000${code}`)),
    rpcClient: (service, method, code, ms) => rpcClientDuration.record(ms, rpcAttributes(`${service}\u0000${method}\u0000${code}`)),
  };
}

function silentMetrics(): ImeifedMetrics {
  const nothing = () => {};
  return {
    lookup: nothing,
    screened: nothing,
    equipmentCheck: nothing,
    cacheHit: nothing,
    cacheMiss: nothing,
    upstreamLatency: nothing,
    circuitState: (country, state) => void circuitStates.set(country, normalState(state)),
    authFailure: nothing,
    rpcServer: nothing,
    rpcClient: nothing,
  };
}

/**
 * The process's metrics: import it and call it from anywhere. Its methods are
 * swapped in place by `installMetrics`, so a reference taken early stays valid.
 */
export const metrics: ImeifedMetrics = silentMetrics();

/** Points `metrics` at instruments of `meter` (called by startTelemetry). */
export function installMetrics(meter: Meter): void {
  Object.assign(metrics, createMetrics(meter, circuitStates));
}

/** Makes `metrics` silent again (called when telemetry shuts down). */
export function uninstallMetrics(): void {
  Object.assign(metrics, silentMetrics());
}
