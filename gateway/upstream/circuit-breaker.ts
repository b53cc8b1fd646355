/**
 * A circuit breaker per upstream registry: after repeated failures the gateway
 * stops waiting on a registry that is down (its calls fail fast as
 * CIRCUIT_OPEN), and after a cool-down lets one probe call through, so a
 * registry that comes back is used again within seconds without a restart.
 * Every upstream call goes through `call`, the one place an outcome is
 * recorded in the breaker.
 */
import { Code, ImeifedError } from "../../errors/index.js";
import { outcomeOf, type UpstreamOutcome } from "./upstream-outcome.js";

/** Calls this short are not held against a registry when they run out of time: the caller's deadline was too tight. */
const MIN_BLAMED_BUDGET_MS = 100;

/** closed: calls go through; open: calls fail fast; half-open: one probe is in flight. */
export type CircuitState = "closed" | "open" | "half-open";

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before a probe is allowed. */
  coolDownMs: number;
  /** Clock, for tests. */
  now?: () => number;
  /** Told of every state change (metrics, logs). */
  onStateChange?: (state: CircuitState) => void;
}

/** Counts consecutive failures of one registry and decides whether the next call may go. */
export class CircuitBreaker {
  #state: CircuitState = "closed";
  #failures = 0;
  #openedAt = 0;
  readonly #options: CircuitBreakerOptions;
  readonly #now: () => number;

  constructor(options: CircuitBreakerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /**
   * Asks to make a call. True when the call may go: always when closed; when
   * open, only once the cool-down has passed (that call is the half-open probe).
   */
  tryAcquire(): boolean {
    switch (this.#state) {
      case "closed":
        return true;
      case "half-open":
        return false;
      case "open":
        if (this.#now() - this.#openedAt < this.#options.coolDownMs) return false;
        this.#set("half-open");
        return true;
    }
  }

  /** Milliseconds until an open circuit lets a probe through (0 when it would now). */
  retryInMs(): number {
    if (this.#state !== "open") return 0;
    return Math.max(0, this.#options.coolDownMs - (this.#now() - this.#openedAt));
  }

  /**
   * Makes one upstream call through the breaker: refused at once as
   * CIRCUIT_OPEN while the circuit is open, otherwise `send` is awaited and
   * its outcome recorded (a success closes the circuit; a failure of the
   * upstream counts towards opening it; anything else is neutral). `budgetMs`:
   * the time the call was given, so a call the caller's deadline cut short is
   * not blamed on the upstream. Never rejects.
   */
  async call<A>(budgetMs: number, send: () => Promise<A>): Promise<UpstreamOutcome<A>> {
    if (!this.tryAcquire()) return { ok: false, error: new ImeifedError(Code.UNAVAILABLE, "CIRCUIT_OPEN", "the registry's circuit is open after repeated failures") };
    const outcome = await outcomeOf(send);
    if (outcome.ok) this.recordSuccess();
    else if (isFailureOfUpstream(outcome.error, budgetMs)) this.recordFailure();
    else this.recordNeutral();
    return outcome;
  }

  /** The registry answered: the circuit closes. */
  recordSuccess(): void {
    this.#failures = 0;
    if (this.#state !== "closed") this.#set("closed");
  }

  /** The registry failed (unavailable, internal, or too slow). */
  recordFailure(): void {
    this.#failures += 1;
    if (this.#state === "half-open" || (this.#state === "closed" && this.#failures >= this.#options.failureThreshold)) {
      this.#openedAt = this.#now();
      this.#set("open");
    }
  }

  /**
   * A call ended without telling whether the registry is healthy (the caller
   * gave up, or the registry refused the requester): a half-open probe that
   * ends this way must not leave the circuit stuck half-open.
   */
  recordNeutral(): void {
    if (this.#state === "half-open") {
      this.#openedAt = this.#now() - this.#options.coolDownMs;
      this.#set("open");
    }
  }

  #set(state: CircuitState): void {
    this.#state = state;
    this.#options.onStateChange?.(state);
  }
}

/** Whether `error` tells the upstream is unwell (rather than the caller's deadline too tight, or a refusal of the requester). */
function isFailureOfUpstream(error: ImeifedError, budgetMs: number): boolean {
  switch (error.code) {
    case Code.UNAVAILABLE:
    case Code.INTERNAL:
    case Code.UNKNOWN:
    case Code.DATA_LOSS:
      return true;
    case Code.DEADLINE_EXCEEDED:
      return budgetMs >= MIN_BLAMED_BUDGET_MS;
    default:
      return false;
  }
}
