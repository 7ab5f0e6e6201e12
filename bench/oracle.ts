import type { Sql } from "../src/clients/postgres";

/**
 * the contract's feeds computed from PostgreSQL by the spec's own definition: the yardstick every
 * convergence check (tests and the chaos suite) compares the pipeline's feeds with.
 */

/**
 * The home feed of `userId`: every existing activity whose actor is the user or someone the
 * user follows now, newest first by event time (to the millisecond, as the feed stores it),
 * ties by activity id. All of it: callers compare the first N.
 */
export async function homeOracle(sql: Sql, userId: string) {
  return activityIds(sql, sql`select ${userId}::bigint as id union select followee_id from follows where follower_id = ${userId}`);
}

/** The profile feed of `userId`: the user's own existing activities, in feed order. */
export async function profileOracle(sql: Sql, userId: string) {
  return activityIds(sql, sql`select ${userId}::bigint as id`);
}

async function activityIds(sql: Sql, actors: ReturnType<Sql>) {
  const rows = await sql`
    with actors as (${actors}), activities as (
      select 'shard:' || id as id, author_id as actor, created_at from posts
      union all select 'comment:' || id, author_id, created_at from comments
      union all select 'like:' || user_id || ':' || post_id, user_id, created_at from likes
      union all select 'follow:' || follower_id || ':' || followee_id, follower_id, created_at from follows
    )
    select id from activities where actor in (select id from actors)
    order by date_trunc('milliseconds', created_at) desc, id collate "C" desc`;
  return rows.map((r) => r.id as string);
}

/**
 * How a served feed differs from the oracle, under the contract's retention rule: the first
 * `length` items must be exactly the oracle's; anything past that must still be in the oracle,
 * in order; nothing twice. Every count 0 means equal.
 */
export function compareFeeds(want: string[], got: string[], length: number) {
  const head = want.slice(0, length);
  const gotSet = new Set(got);
  const wanted = new Set(want);
  const position = new Map(want.map((id, i) => [id, i]));
  const missing = head.filter((id) => !gotSet.has(id)).length;
  const extra = got.filter((id) => !wanted.has(id)).length;
  const doubled = got.length - gotSet.size;
  const inOrder = got.every((id, i) => i === 0 || (position.get(id) ?? -1) > (position.get(got[i - 1]!) ?? -1));
  return { missing, extra, doubled, misordered: inOrder ? 0 : 1 };
}

export type FeedDiff = ReturnType<typeof compareFeeds>;
