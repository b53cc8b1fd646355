/** Reads a server stream one message at a time, failing a test that waits longer than it should. */
export interface StreamReader<T> {
  /** The next message; rejects when none arrives within `timeoutMs` or the stream ends. */
  next(timeoutMs?: number): Promise<T>;
  /** Whether the stream ends (or fails) within `timeoutMs` without another message; resolves to the error, if any. */
  end(timeoutMs?: number): Promise<unknown>;
  close(): Promise<void>;
}

export function readStream<T>(stream: AsyncIterable<T>): StreamReader<T> {
  const iterator = stream[Symbol.asyncIterator]();
  const withTimeout = <R>(promise: Promise<R>, timeoutMs: number, what: string): Promise<R> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  };
  return {
    async next(timeoutMs = 2_000) {
      const result = await withTimeout(iterator.next(), timeoutMs, "message");
      if (result.done) throw new Error("the stream ended");
      return result.value;
    },
    async end(timeoutMs = 5_000) {
      try {
        const result = await withTimeout(iterator.next(), timeoutMs, "end of stream");
        if (!result.done) throw new Error("expected the stream to end, got a message");
        return undefined;
      } catch (error) {
        if (error instanceof Error && /^no end of stream|expected the stream to end/.test(error.message)) throw error;
        return error;
      }
    },
    async close() {
      await iterator.return?.();
    },
  };
}
