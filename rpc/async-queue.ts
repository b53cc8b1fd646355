/**
 * A queue read as an async iterable: one side pushes messages as they come,
 * the other reads them with `for await`. The request side of a client stream
 * fed by events (a gateway's CheckDevicesStream), or the response side of a
 * handler whose answers finish out of order.
 *
 * One reader only. It holds what was pushed and not yet read: callers that
 * need a bound keep it themselves (count what they pushed and was not read).
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #head = 0;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void) | undefined;

  /** Messages pushed and not yet read. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** True once `end` or `fail` was called. */
  get closed(): boolean {
    return this.#ended || this.#failure !== undefined;
  }

  /** Adds a message; ignored after `end` or `fail`. */
  push(item: T): void {
    if (this.closed) return;
    this.#items.push(item);
    this.#wakeReader();
  }

  /** The reader finishes after the messages already pushed. */
  end(): void {
    this.#ended = true;
    this.#wakeReader();
  }

  /** The reader throws `error` after the messages already pushed. */
  fail(error: unknown): void {
    if (this.closed) return;
    this.#failure = { error };
    this.#wakeReader();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      while (this.#head < this.#items.length) {
        const item = this.#items[this.#head]!;
        this.#items[this.#head++] = undefined as T;
        if (this.#head === this.#items.length) {
          this.#items.length = 0;
          this.#head = 0;
        }
        yield item;
      }
      if (this.#failure) throw this.#failure.error;
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
