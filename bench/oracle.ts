import type { Sql } from "../src/clients/postgres";
import { excerptOf } from "../src/model/activity";

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

/** What an item shows, as the contract defines it (FEED-SPEC, "A feed item carries…"). */
export type Rendered = {
  actor: { id: string; handle: string };
  object:
    | { type: "post"; id: string; authorId: string; authorHandle: string; excerpt: string }
    | { type: "user"; id: string; handle: string; displayName: string | null };
  excerpt: string | null;
};

/**
 * How each of the activities `ids` renders, computed from PostgreSQL: its actor's handle, its
 * object (a post with its author and excerpt, or a user with handle and display name), and a
 * post's or a comment's own excerpt. Activities that no longer exist are absent.
 */
export async function renderedOracle(sql: Sql, ids: string[]): Promise<Map<string, Rendered>> {
  const parts = (verb: string) => ids.filter((id) => id.startsWith(`${verb}:`)).map((id) => id.split(":").slice(1));
  const [shards, comments, likes, follows] = ["shard", "comment", "like", "follow"].map(parts) as string[][][];
  const out = new Map<string, Rendered>();
  const post = (r: Record<string, unknown>) => ({
    type: "post" as const,
    id: String(r.post_id),
    authorId: String(r.author_id),
    authorHandle: r.author_handle as string,
    excerpt: excerptOf(r.post_body as string),
  });
  const actor = (r: Record<string, unknown>) => ({ id: String(r.actor_id), handle: r.actor_handle as string });
  if (shards!.length > 0) {
    for (const r of await sql`
      select p.id as post_id, p.body as post_body, p.author_id, u.handle as author_handle, p.author_id as actor_id, u.handle as actor_handle
      from posts p join users u on u.id = p.author_id where p.id = any(${shards!.map((s) => s[0]!)}::bigint[])`) {
      out.set(`shard:${r.post_id}`, { actor: actor(r), object: post(r), excerpt: excerptOf(r.post_body as string) });
    }
  }
  if (comments!.length > 0) {
    for (const r of await sql`
      select c.id, c.body, c.author_id as actor_id, cu.handle as actor_handle, p.id as post_id, p.body as post_body, p.author_id, pu.handle as author_handle
      from comments c join users cu on cu.id = c.author_id join posts p on p.id = c.post_id join users pu on pu.id = p.author_id
      where c.id = any(${comments!.map((c) => c[0]!)}::bigint[])`) {
      out.set(`comment:${r.id}`, { actor: actor(r), object: post(r), excerpt: excerptOf(r.body as string) });
    }
  }
  if (likes!.length > 0) {
    for (const r of await sql`
      select l.user_id as actor_id, lu.handle as actor_handle, p.id as post_id, p.body as post_body, p.author_id, pu.handle as author_handle
      from likes l join users lu on lu.id = l.user_id join posts p on p.id = l.post_id join users pu on pu.id = p.author_id
      where (l.user_id, l.post_id) in (select * from unnest(${likes!.map((l) => l[0]!)}::bigint[], ${likes!.map((l) => l[1]!)}::bigint[]))`) {
      out.set(`like:${r.actor_id}:${r.post_id}`, { actor: actor(r), object: post(r), excerpt: null });
    }
  }
  if (follows!.length > 0) {
    for (const r of await sql`
      select f.follower_id as actor_id, a.handle as actor_handle, b.id as followee_id, b.handle, b.display_name
      from follows f join users a on a.id = f.follower_id join users b on b.id = f.followee_id
      where (f.follower_id, f.followee_id) in (select * from unnest(${follows!.map((f) => f[0]!)}::bigint[], ${follows!.map((f) => f[1]!)}::bigint[]))`) {
      const object = { type: "user" as const, id: String(r.followee_id), handle: r.handle as string, displayName: (r.display_name as string | null) ?? null };
      out.set(`follow:${r.actor_id}:${r.followee_id}`, { actor: actor(r), object, excerpt: null });
    }
  }
  return out;
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

/**
 * The served items whose rendering differs from the oracle's (`renderedOracle`), one line each;
 * items the oracle lacks are left to `compareFeeds` (they are extra, not misrendered).
 */
export function compareRendering(want: Map<string, Rendered>, served: { id: string; actor: unknown; object: unknown; excerpt: unknown }[]) {
  const wrong: string[] = [];
  for (const item of served) {
    const expected = want.get(item.id);
    if (!expected) continue;
    const got = { actor: item.actor, object: item.object, excerpt: item.excerpt };
    if (JSON.stringify(got) !== JSON.stringify(expected)) wrong.push(`${item.id}: served ${JSON.stringify(got)}, oracle ${JSON.stringify(expected)}`);
  }
  return wrong;
}

/** A notification group as the contract defines it (FEED-SPEC, "Notifications"), rendered. */
export type OracleGroup = {
  id: string;
  verb: string;
  actors: { id: string; handle: string }[];
  actorCount: number;
  object:
    | { type: "post"; id: string; authorId: string; authorHandle: string; excerpt: string }
    | { type: "user"; id: string; handle: string; displayName: string | null };
  createdAt: string;
  updatedAt: string;
};

type Action = { verb: string; id: string; actor: string; object: string; at: number };

/** What others did to `userId`, by notification group id (`<verb>:<object>:<window>`), from PostgreSQL. */
async function notificationActions(sql: Sql, userId: string, windowMs: number) {
  const rows = await sql`
    select 'LIKE' as verb, 'like:' || l.user_id || ':' || l.post_id as id, l.user_id as actor, l.post_id as object, l.created_at
      from likes l join posts p on p.id = l.post_id where p.author_id = ${userId} and l.user_id <> ${userId}
    union all select 'COMMENT', 'comment:' || c.id, c.author_id, c.post_id, c.created_at
      from comments c join posts p on p.id = c.post_id where p.author_id = ${userId} and c.author_id <> ${userId}
    union all select 'MENTION', 'mention:' || m.id, m.author_id, m.post_id, m.created_at
      from mentions m where m.user_id = ${userId} and m.author_id <> ${userId}
    union all select 'FOLLOW', 'follow:' || f.follower_id || ':' || f.followee_id, f.follower_id, f.followee_id, f.created_at
      from follows f where f.followee_id = ${userId}`;
  const groups = new Map<string, Action[]>();
  for (const r of rows) {
    const a: Action = { verb: r.verb, id: r.id, actor: String(r.actor), object: String(r.object), at: (r.created_at as Date).getTime() };
    const id = `${a.verb.toLowerCase()}:${a.object}:${Math.floor(a.at / windowMs)}`;
    groups.set(id, [...(groups.get(id) ?? []), a]);
  }
  return groups;
}

/** Per notification group of `userId`, how many of its actions each actor made: what the store's per-actor counts must equal. */
export async function notificationActorsOracle(sql: Sql, userId: string, windowMs: number) {
  const out = new Map<string, Map<string, number>>();
  for (const [id, list] of await notificationActions(sql, userId, windowMs)) {
    const counts = new Map<string, number>();
    for (const a of list) counts.set(a.actor, (counts.get(a.actor) ?? 0) + 1);
    out.set(id, counts);
  }
  return out;
}

/**
 * The notification groups of `userId`, computed from PostgreSQL: what others did to the user (a
 * follow of them, a like of or comment on their post, a mention of them), grouped by verb, object
 * and the `windowMs` window of each action's time; newest action first (ties by group id), each
 * with its newest `shown` distinct actors, its distinct actor count, and its object rendered.
 */
export async function notificationsOracle(sql: Sql, userId: string, windowMs: number, shown = 3): Promise<OracleGroup[]> {
  const groups = await notificationActions(sql, userId, windowMs);
  const actions = [...groups.values()].flat();
  const userIds = [...new Set([...actions.map((a) => a.actor), userId])];
  const postIds = [...new Set(actions.filter((a) => a.verb !== "FOLLOW").map((a) => a.object))];
  const users = new Map((await sql`select id, handle, display_name from users where id = any(${userIds}::bigint[])`).map((r) => [String(r.id), r]));
  const posts = new Map(
    (await sql`select p.id, p.body, p.author_id, u.handle from posts p join users u on u.id = p.author_id where p.id = any(${postIds}::bigint[])`).map((r) => [String(r.id), r]),
  );
  const byTime = (a: Action, b: Action) => b.at - a.at || (a.id > b.id ? -1 : a.id < b.id ? 1 : 0);
  const out: OracleGroup[] = [...groups].map(([id, list]) => {
    list.sort(byTime);
    const first = list[0]!;
    const post = posts.get(first.object);
    const user = users.get(first.object);
    return {
      id,
      verb: first.verb,
      actors: [...new Set(list.map((a) => a.actor))].slice(0, shown).map((a) => ({ id: a, handle: users.get(a)!.handle as string })),
      actorCount: new Set(list.map((a) => a.actor)).size,
      object:
        first.verb === "FOLLOW"
          ? { type: "user", id: first.object, handle: user!.handle as string, displayName: (user!.display_name as string | null) ?? null }
          : { type: "post", id: first.object, authorId: String(post!.author_id), authorHandle: post!.handle as string, excerpt: excerptOf(post!.body as string) },
      createdAt: new Date(list.at(-1)!.at).toISOString(),
      updatedAt: new Date(first.at).toISOString(),
    };
  });
  return out.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || (a.id > b.id ? -1 : a.id < b.id ? 1 : 0));
}
