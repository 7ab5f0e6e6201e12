/** Progress lines for long operations: each step says what it does, then how it ended and how long it took. */
export async function step<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  console.log(`▸ ${label}…`);
  try {
    const result = await fn();
    console.log(`✓ ${label} (${seconds(started)})`);
    return result;
  } catch (err) {
    console.log(`✗ ${label} (${seconds(started)})`);
    throw err;
  }
}

/** A detail line under the current step. */
export function note(message: string) {
  console.log(`  ${message}`);
}

export function seconds(since: number) {
  return `${((performance.now() - since) / 1000).toFixed(1)}s`;
}
