import { createHash } from "node:crypto";
import { AppError } from "../errors";
import type { Sql, Tx } from "../clients/postgres";

/** How long keys live: a sign-up's briefly (a replay returns a token), every other one a day by default. */
export type KeyLifetimes = { signupSeconds: number; otherSeconds: number };

/**
 * Runs `write` at most once per (scope, key) inside the caller's transaction, for `ttlSeconds`
 * after the key was first used. The key row is inserted first: a concurrent retry with the same
 * key waits on it, then sees the stored response. A failed write rolls the key back with it, so
 * a retry tries again. A key past its life is forgotten first: the call is then a new request.
 */
export async function once<T>(
  tx: Tx,
  idem: { scope: string; key: string; procedure: string; input: unknown; ttlSeconds: number } | undefined,
  write: () => Promise<T>,
): Promise<T> {
  if (!idem) return write();
  const hash = createHash("sha256").update(JSON.stringify(idem.input)).digest("hex");
  await tx`
    delete from idempotency_keys
    where scope = ${idem.scope} and key = ${idem.key} and created_at < now() - make_interval(secs => ${idem.ttlSeconds})`;
  const [claimed] = await tx`
    insert into idempotency_keys (scope, key, procedure, request_hash)
    values (${idem.scope}, ${idem.key}, ${idem.procedure}, ${hash})
    on conflict do nothing
    returning 1 as claimed`;
  if (!claimed) {
    const [previous] = await tx`
      select procedure, request_hash, response from idempotency_keys where scope = ${idem.scope} and key = ${idem.key}`;
    if (!previous || previous.procedure !== idem.procedure || previous.request_hash !== hash) {
      throw new AppError("IDEMPOTENCY_KEY_REUSED", "this idempotency key was already used for a different request");
    }
    return previous.response as T;
  }
  const result = await write();
  await tx`update idempotency_keys set response = ${tx.json(result as never)} where scope = ${idem.scope} and key = ${idem.key}`;
  return result;
}

/**
 * Deletes keys past the longest lifetime, at most `batch` rows per statement until none is left
 * (the worker role runs it every few minutes: src/source/key-expiry.ts). Returns how many went.
 */
export async function expireKeys(sql: Sql, lifetimes: KeyLifetimes, batch = 10_000) {
  const older = Math.max(lifetimes.signupSeconds, lifetimes.otherSeconds);
  let total = 0;
  for (;;) {
    const gone = await sql`
      delete from idempotency_keys where ctid in (
        select ctid from idempotency_keys where created_at < now() - make_interval(secs => ${older}) limit ${batch})`;
    total += gone.count;
    if (gone.count < batch) return total;
  }
}
