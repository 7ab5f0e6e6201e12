import { createHash } from "node:crypto";
import { AppError } from "../errors";
import type { Tx } from "../clients/postgres";



/**
 * Runs `write` at most once per (scope, key) inside the caller's transaction. The key row is
 * inserted first: a concurrent retry with the same key waits on it, then sees the stored
 * response. A failed write rolls the key back with it, so a retry tries again.
 */
export async function once<T>(
  tx: Tx,
  idem: { scope: string; key: string; procedure: string; input: unknown } | undefined,
  write: () => Promise<T>,
): Promise<T> {
  if (!idem) return write();
  const hash = createHash("sha256").update(JSON.stringify(idem.input)).digest("hex");
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
