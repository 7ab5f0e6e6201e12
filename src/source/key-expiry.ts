import type { Sql } from "../clients/postgres";
import type { Metrics } from "../metrics";
import { expireKeys, type KeyLifetimes } from "./idempotency";

/**
 * The worker role's job that deletes idempotency keys past their life (every 5 minutes by
 * default), so the table holds about a day of keys rather than all of them forever. Several
 * workers may run it at once: each deletes what is left. A failure (PostgreSQL away) is logged and
 * retried at the next round.
 */
export function startKeyExpiry(deps: { sql: Sql; lifetimes: KeyLifetimes; metrics: Metrics; everyMs?: number }) {
  const expired = deps.metrics.counter("feedline_idempotency_keys_expired_total", "Idempotency keys deleted past their lifetime.");
  let running: Promise<void> | undefined;
  const round = () => {
    running ??= expireKeys(deps.sql, deps.lifetimes)
      .then((n) => expired.inc({}, n))
      .catch((err) => console.warn(`[keys] expiring idempotency keys: ${err instanceof Error ? err.message : err}`))
      .finally(() => (running = undefined));
  };
  const timer = setInterval(round, deps.everyMs ?? 5 * 60_000);
  round();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
