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
