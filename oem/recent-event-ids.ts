/**
 * Drops repeats: the feed delivers every event at least once, so the same
 * event can arrive twice (a reconnection after the consumer acted but before it
 * saved its cursor). The consumer remembers the ids of the events it handled
 * lately and skips an id it has seen. Bounded, because an id can only come back
 * shortly after it was handled.
 */

/** How many ids are kept by default: far more than a feed ever redelivers after one reconnection. */
export const DEFAULT_RECENT_EVENT_IDS = 10_000;

/** A bounded set of event ids, oldest evicted first. */
export class RecentEventIds {
  readonly #ids = new Set<string>();

  constructor(
    initial: readonly string[] = [],
    readonly capacity = DEFAULT_RECENT_EVENT_IDS,
  ) {
    for (const id of initial) this.add(id);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string): void {
    this.#ids.delete(id);
    this.#ids.add(id);
    // A Set iterates in insertion order, so the first id is the oldest.
    while (this.#ids.size > this.capacity) this.#ids.delete(this.#ids.values().next().value as string);
  }

  /** The ids, oldest first, for the cursor file. */
  toArray(): string[] {
    return [...this.#ids];
  }
}
