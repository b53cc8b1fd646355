/**
 * Up to `capacity` tasks at once, whose results are taken in the order the
 * tasks started: screening runs a few chunks against the registries at once
 * and still answers in manifest order.
 */
export class InOrderPool<T> {
  readonly #running: Promise<T>[] = [];

  constructor(readonly capacity: number) {}

  /** Tasks started and not yet taken. */
  get size(): number {
    return this.#running.length;
  }

  get full(): boolean {
    return this.#running.length >= this.capacity;
  }

  /** Starts `task` now; its result (or failure) is taken in its turn. */
  start(task: () => Promise<T>): void {
    const running = task();
    // Taken in order: a later task's failure must not count as unhandled while an earlier one is awaited.
    running.catch(() => undefined);
    this.#running.push(running);
  }

  /** The oldest task, still running or done; undefined when none is held. */
  get oldest(): Promise<T> | undefined {
    return this.#running[0];
  }

  /** Removes the oldest task and waits for its result. */
  take(): Promise<T> {
    const oldest = this.#running.shift();
    if (!oldest) throw new RangeError("take() on an empty pool");
    return oldest;
  }
}
