import type { Sql } from "../src/clients/postgres";
import { progressBar } from "./support";

/**
 * The generated data set the benchmarks share: users `<prefix>_<n>`, a power-law follow graph,
 * and posts, likes and comments spread over the last `days`, all written to PostgreSQL with
 * server-side INSERT … SELECT in chunks (no row crosses the wire), so Debezium streams them and
 * the pipeline builds every feed.
 *
 * Shape, chosen to look like a social network rather than to flatter the fan-out:
 * - who is followed: followee rank = ⌊N·u^skew⌋ with u uniform, so rank r is drawn with density
 *   ∝ r^(1/skew − 1); skew 3 gives in-degrees a power-law tail of exponent ≈ 2.5 (Twitter's is
 *   2.2–2.5): a few users are followed by a large share of everyone, most by a handful;
 * - who posts: a milder skew (u²) over a fixed random order of the users (by md5 of the id), so
 *   the prolific authors are not the most followed ones (on real networks the two are only
 *   loosely correlated);
 * - likes land on posts with a skew (u² over post ids), comments uniformly.
 */
export interface DatasetOptions {
  users: number;
  activities: number;
  /** Follows drawn per user (duplicates and self-follows are dropped, so slightly fewer land). */
  follows: number;
  skew: number;
  days: number;
  prefix: string;
}

export const defaultDataset: DatasetOptions = { users: 10_000, activities: 1_000_000, follows: 20, skew: 3, days: 7, prefix: "bench" };

/** Share of the activities by kind: posts, likes, comments (follows come on top, from the graph). */
const mix = { posts: 0.6, likes: 0.3, comments: 0.1 };
const chunk = 50_000;

export interface DatasetCounts {
  users: number;
  follows: number;
  posts: number;
  likes: number;
  comments: number;
}

/** Rows of the data set present now, by table. */
export async function datasetCounts(sql: Sql, prefix: string): Promise<DatasetCounts> {
  const like = `${prefix}\\_%`;
  const [row] = await sql`
    with u as (select id from users where handle like ${like})
    select (select count(*) from u)::int as users,
           (select count(*) from follows where follower_id in (select id from u))::int as follows,
           (select count(*) from posts where author_id in (select id from u))::int as posts,
           (select count(*) from likes where user_id in (select id from u))::int as likes,
           (select count(*) from comments where author_id in (select id from u))::int as comments`;
  return row as unknown as DatasetCounts;
}

/** Writes the data set; refuses to write over an existing one with the same prefix. */
export async function seedDataset(sql: Sql, o: DatasetOptions): Promise<DatasetCounts & { seconds: number }> {
  if (!/^[a-z0-9]{1,12}$/.test(o.prefix)) throw new Error(`--prefix must be 1–12 lowercase letters or digits, got "${o.prefix}"`);
  if (!(o.users >= 2) || !(o.activities >= 0) || !(o.follows >= 0) || !(o.skew >= 1) || !(o.days > 0))
    throw new Error("need --users ≥ 2, --activities ≥ 0, --follows ≥ 0, --skew ≥ 1 and --days > 0");
  const existing = await datasetCounts(sql, o.prefix);
  if (existing.users > 0)
    throw new Error(`data set "${o.prefix}" is already there (${existing.users} users); pick another --prefix or start from \`npm run stack -- reset\``);

  const started = performance.now();
  const n = o.users;
  const posts = Math.round(o.activities * mix.posts);
  const likes = Math.round(o.activities * mix.likes);
  const comments = o.activities - posts - likes;
  const spread = `${o.days * 86_400} seconds`;

  await inChunks(`users`, n, (from, count) => sql`
    insert into users (handle, display_name, created_at)
    select ${o.prefix} || '_' || g, 'Bench user ' || g, now() - ${spread}::interval
    from generate_series(${from + 1}::int, ${from + count}::int) g`);
  const [{ lo }] = (await sql`select min(id)::bigint as lo from users where handle like ${`${o.prefix}\\_%`}`) as unknown as [{ lo: string }];
  // Every user draws `follows` followees; the chunk is over followers.
  const followersPerChunk = Math.max(1, Math.floor(chunk / Math.max(o.follows, 1)));
  if (o.follows > 0)
    await inChunks(`follows`, n, (from, count) => sql`
      insert into follows (follower_id, followee_id, created_at)
      select f, e, now() - random() * ${spread}::interval from (
        select ${lo}::bigint + f as f, ${lo}::bigint + least(floor(${n}::float8 * power(random(), ${o.skew}::float8))::bigint, ${n - 1}::bigint) as e
        from generate_series(${from}::bigint, ${from + count - 1}::bigint) f, generate_series(1, ${o.follows}::int)
      ) x where f <> e
      on conflict do nothing`, followersPerChunk);
  // Authors by rank in a fixed random order of the users (md5 of the id), unrelated to who is followed.
  await inChunks(`posts`, posts, (from, count) => sql`
    with ranked as (
      select id, (row_number() over (order by md5(id::text)) - 1)::bigint as r from users where id >= ${lo}::bigint and id < ${lo}::bigint + ${n}::bigint
    ), drawn as (
      select g, least(floor(${n}::float8 * power(random(), 2))::bigint, ${n - 1}::bigint) as r
      from generate_series(${from + 1}::bigint, ${from + count}::bigint) g
    )
    insert into posts (author_id, body, created_at)
    select ranked.id, 'Bench post ' || g || ': ' || repeat('lorem ipsum ', (1 + g % 12)::int), now() - random() * ${spread}::interval
    from drawn join ranked using (r)`);
  const [{ plo, phi }] = (await sql`
    select min(p.id)::bigint as plo, max(p.id)::bigint as phi from posts p
    where p.author_id >= ${lo}::bigint and p.author_id < ${lo}::bigint + ${n}::bigint`) as unknown as [{ plo: string | null; phi: string | null }];
  if (plo !== null && phi !== null) {
    await inChunks(`likes`, likes, (_from, count) => sql`
      insert into likes (user_id, post_id, created_at)
      select u, p.id, greatest(p.created_at, now() - random() * ${spread}::interval) from (
        select ${lo}::bigint + floor(${n}::float8 * random())::bigint as u,
               ${plo}::bigint + floor((${phi}::bigint - ${plo}::bigint + 1) * power(random(), 2))::bigint as pid
        from generate_series(1, ${count}::int)) x
      join posts p on p.id = x.pid
      on conflict do nothing`);
    await inChunks(`comments`, comments, (_from, count) => sql`
      insert into comments (post_id, author_id, body, created_at)
      select p.id, a, 'Bench comment', greatest(p.created_at, now() - random() * ${spread}::interval) from (
        select ${plo}::bigint + floor((${phi}::bigint - ${plo}::bigint + 1) * random())::bigint as pid,
               ${lo}::bigint + floor(${n}::float8 * random())::bigint as a
        from generate_series(1, ${count}::int)) x
      join posts p on p.id = x.pid`);
  }
  await sql`analyze`;
  return { ...(await datasetCounts(sql, o.prefix)), seconds: (performance.now() - started) / 1000 };
}

/** Runs `write` over 0…total in chunks, one statement (its own transaction) each, with a progress bar. */
async function inChunks(label: string, total: number, write: (from: number, count: number) => Promise<unknown>, size = chunk) {
  const bar = progressBar(label.padEnd(8), total);
  for (let from = 0; from < total; from += size) {
    const count = Math.min(size, total - from);
    await write(from, count);
    bar.tick(count);
  }
  bar.finish();
}
