/** Runs async jobs with at most `limit` in flight; rejects with the first failure after all settle. */
export async function inParallel<T>(items: T[], limit: number, job: (item: T) => Promise<void>) {
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++]!;
      try {
        await job(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure;
}

/**
 * Jobs by key, run `concurrency` at a time in the order they came, a key waiting or running at
 * most once; at most `backlog` wait, and past that `add` refuses (a later caller asks again).
 * Work behind the request path (the upkeep's trims, returning users' catch-ups) queues here, so
 * that a storm of it waits for its turn instead of competing with the pages. A job handles its
 * own failure; `onSize` hears how many wait and run.
 */
export function createKeyedQueue(opts: { concurrency: number; backlog: number; onSize?: (size: number) => void }) {
  const waiting = new Map<string, () => Promise<void>>();
  const running = new Set<string>();
  const size = () => waiting.size + running.size;
  function pump() {
    for (const [key, job] of waiting) {
      if (running.size >= opts.concurrency) break;
      waiting.delete(key);
      running.add(key);
      job()
        .catch(() => {})
        .finally(() => {
          running.delete(key);
          pump();
        });
    }
    opts.onSize?.(size());
  }
  return {
    /** Whether the key waits or runs. */
    has: (key: string) => waiting.has(key) || running.has(key),
    /** Queues the job under its key (a key already there keeps its place); false when the backlog is full. */
    add(key: string, job: () => Promise<void>) {
      if (waiting.has(key) || running.has(key)) return true;
      if (waiting.size >= opts.backlog) return false;
      waiting.set(key, job);
      pump();
      return true;
    },
    size,
  };
}
