import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Services } from "../../src/services";
import { openServices, uniqueHandle } from "../support/stack";

let services: Services;

beforeAll(async () => {
  services = await openServices();
});

afterAll(() => services.close());

const newUser = async () => (await services.sql`insert into users (handle) values (${uniqueHandle("pg")}) returning id`)[0]!.id as string;

describe("PostgreSQL schema", () => {
  test("TRUNCATE of a captured table is refused with a clear error, and nothing is removed", async () => {
    await newUser();
    for (const table of ["users", "follows", "posts", "comments", "likes"]) {
      const before = Number((await services.sql`select count(*)::int as n from ${services.sql(table)}`)[0]!.n);
      const err = await services.sql`truncate ${services.sql(table)} cascade`.then(() => undefined, (e: unknown) => e as { code?: string; message?: string; hint?: string });
      expect(err).toMatchObject({ code: "0A000", message: `TRUNCATE of ${table} is refused: feeds are built from row-level changes and a truncate has none` });
      expect(err?.hint).toContain("Delete the rows instead");
      expect(Number((await services.sql`select count(*)::int as n from ${services.sql(table)}`)[0]!.n)).toBe(before);
    }
  });

  test("a transaction that fails writes nothing", async () => {
    const handle = uniqueHandle("tx");
    const attempt = services.sql.begin(async (tx) => {
      await tx`insert into users (handle) values (${handle})`;
      await tx`insert into users (handle) values (${handle})`; // unique violation
    });
    await expect(attempt).rejects.toThrow(/users_handle_key/);
    expect(await services.sql`select 1 from users where handle = ${handle}`).toHaveLength(0);
  });

  test("a double follow, a self follow and a double like are impossible", async () => {
    const [a, b] = [await newUser(), await newUser()];
    await services.sql`insert into follows (follower_id, followee_id) values (${a}, ${b})`;
    await expect(services.sql`insert into follows (follower_id, followee_id) values (${a}, ${b})`).rejects.toThrow(/follows_pkey/);
    await expect(services.sql`insert into follows (follower_id, followee_id) values (${a}, ${a})`).rejects.toThrow(/follows_not_self/);

    const [post] = await services.sql`insert into posts (author_id, body) values (${b}, 'hello') returning id`;
    await services.sql`insert into likes (user_id, post_id) values (${a}, ${post!.id})`;
    await expect(services.sql`insert into likes (user_id, post_id) values (${a}, ${post!.id})`).rejects.toThrow(/likes_pkey/);
  });

  test("deleting a post deletes its comments and likes with it", async () => {
    const a = await newUser();
    const [post] = await services.sql`insert into posts (author_id, body) values (${a}, 'doomed') returning id`;
    await services.sql`insert into comments (post_id, author_id, body) values (${post!.id}, ${a}, 'first')`;
    await services.sql`insert into likes (user_id, post_id) values (${a}, ${post!.id})`;
    await services.sql`delete from posts where id = ${post!.id}`;
    expect(await services.sql`select 1 from comments where post_id = ${post!.id}`).toHaveLength(0);
    expect(await services.sql`select 1 from likes where post_id = ${post!.id}`).toHaveLength(0);
  });

  test("every captured table carries the whole row on update and delete (REPLICA IDENTITY FULL)", async () => {
    const rows = await services.sql`
      select relname from pg_class where relreplident = 'f' and relname in ('users', 'follows', 'posts', 'comments', 'likes') order by relname`;
    expect(rows.map((r) => r.relname)).toEqual(["comments", "follows", "likes", "posts", "users"]);
  });

  test("logical decoding is on", async () => {
    const [row] = await services.sql`show wal_level`;
    expect(row!.wal_level).toBe("logical");
  });
});
