/**
 * Merges several registries' streams into one, pulling from each only when its
 * previous item has been handled (so a slow manufacturer slows the registries'
 * streams down instead of filling memory), taking turns so a busy registry
 * cannot starve a quiet one, and without letting a silent source hold the
 * others back.
 */

/**
 * Yields every item of every source as soon as it arrives. Ends when all
 * sources end; the first source that throws ends the merge with its error.
 * Returning early (the caller cancelled) asks every source to close.
 */
export async function* mergeStreams<T>(sources: readonly AsyncIterable<T>[]): AsyncGenerator<T, void, undefined> {
  const iterators = sources.map((source) => source[Symbol.asyncIterator]());
  type Pulled = { index: number; result: IteratorResult<T, unknown> };
  const pending = new Map<number, Promise<Pulled>>();
  const pull = (index: number) => {
    pending.set(index, iterators[index]!.next().then((result) => ({ index, result })));
  };
  iterators.forEach((_, index) => pull(index));
  // Rotating the order handed to Promise.race gives each source a turn when several are ready at once.
  let turn = 0;
  try {
    while (pending.size > 0) {
      const indexes = [...pending.keys()];
      const rotated = indexes.slice(turn % indexes.length).concat(indexes.slice(0, turn % indexes.length));
      turn++;
      const { index, result } = await Promise.race(rotated.map((i) => pending.get(i)!));
      pending.delete(index);
      if (result.done) continue;
      yield result.value;
      pull(index);
    }
  } finally {
    // Ask every source to close. A source suspended in a read only closes when
    // that read settles, so this does not wait: sources that hold network calls
    // must also stop on the caller's abort signal (the feed's followers do).
    for (const promise of pending.values()) promise.catch(() => undefined);
    for (const iterator of iterators) void Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}
