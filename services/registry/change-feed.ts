/**
 * ChangeFeed wakes the registry's open WatchChanges / WatchSightings streams
 * when something was committed. It carries no data: a woken watcher reads
 * what is new from the store, so a wake-up can never be lost or reordered.
 *
 * A watcher takes `version` before it reads; if a commit lands between its
 * read and its `wait`, the version has moved and `wait` returns at once.
 */
export class ChangeFeed {
  #version = 0;
  readonly #waiters = new Set<() => void>();

  /** Bumped by every `notify`; take it before reading. */
  get version(): number {
    return this.#version;
  }

  /** How many watchers are waiting now (stores poll for other processes' commits only while someone waits). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Wakes every waiting watcher: called after a commit (or a NOTIFY from another process). */
  notify(): void {
    this.#version++;
    for (const wake of [...this.#waiters]) wake();
  }

  /**
   * Waits until the version differs from `seen`, the signal aborts, or
   * `timeoutMs` passes. Resolves false only when the signal aborted. Leaves no
   * listener or timer behind in any case.
   */
  wait(seen: number, signal: AbortSignal, timeoutMs = 30_000): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.#version !== seen) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const finish = (result: boolean) => {
        this.#waiters.delete(wake);
        signal.removeEventListener("abort", onAbort);
        clearTimeout(timer);
        resolve(result);
      };
      const wake = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(true), timeoutMs);
      this.#waiters.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
