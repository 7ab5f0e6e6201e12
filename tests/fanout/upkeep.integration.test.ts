import { beforeAll, describe, expect, test } from "bun:test";
import { trimmed } from "../../src/fanout/complete";
import { createRegistry } from "../../src/clients/redis";
import { generationOf } from "../../src/model/write-time";
import { expectServedIsOracle, servedHome, signUp } from "../support/api";
import { feedIds, sharedWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

// Retention by length, kept by the upkeep on read (src/fanout/upkeep.ts): feed rows never
// expire; rows past 2N are trimmed, and come back when removals reach into them.

const services = useServices();
beforeAll(async () => {
  await sharedWorker();
});

const rowsOf = async (userId: string) =>
  (await services().cassandra.execute("SELECT created_at, activity_id, WRITETIME(item) AS ts, TTL(item) AS ttl FROM home_feed WHERE user_id = ?", [userId], { fetchSize: 5000, autoPage: true })).rows;

describe("trimming past 2N", () => {
  test("trims the rows past 2N, and a removal that reaches into them brings them back", async () => {
    const n = services().config.feed.length;
    const [a, u] = [await signUp(services(), "trim"), await signUp(services(), "reader")];
    await u.as.follows.follow({ userId: a.user.id });
    await eventually("the follow applied", async () => ((await feedIds(services(), u.user.id)).length > 0 ? true : undefined));
    // 2N + 5 posts after the follow: the fan-out writes each of them into U's feed.
    const posts = (
      await services().sql`
        insert into posts (author_id, body, created_at)
        select ${a.user.id}, 'p' || g, now() - make_interval(secs => ${2 * n + 5} - g + 1) from generate_series(1, ${2 * n + 5}) g
        returning id`
    ).map((p) => String(p.id)).sort((x, y) => Number(y) - Number(x));
    await eventually("every post in U's feed", async () => ((await feedIds(services(), u.user.id)).length === 2 * n + 6 ? true : undefined), 120_000);

    expect((await rowsOf(u.user.id)).every((r) => r.ttl === null)).toBe(true); // no age limit anywhere
    await services().upkeep.upkeep(u.user.id, { force: true });
    expect((await feedIds(services(), u.user.id)).length).toBe(2 * n);
    expect((await services().feeds.cuts(u.user.id)).some((c) => c.source === trimmed)).toBe(true);
    const oldest = `shard:${posts.at(-1)}`;
    expect(await feedIds(services(), u.user.id)).not.toContain(oldest);

    // N + 10 of the newest go: A's remaining N - 5 posts and U's FOLLOW are the whole feed now.
    await services().sql`delete from posts where id in ${services().sql(posts.slice(0, n + 10))}`;
    await expectServedIsOracle(services(), u, 120_000);
    expect(await servedHome(u)).toContain(oldest);
    // Written back one generation above the trim's delete (write-time.ts).
    const back = (await rowsOf(u.user.id)).find((r) => r.activity_id === oldest)!;
    expect(generationOf(Number(back.ts))).toBe(1);
  });
});

describe("the upkeep's bookkeeping", () => {
  test("an empty feed that was kept reads back empty, and is not kept again the same day", async () => {
    const userId = `upkeep-${crypto.randomUUID().slice(0, 8)}`;
    await services().upkeep.upkeep(userId);
    expect(await services().feeds.feed(userId, 10)).toEqual([]);
    const kept = await services().feeds.upkept(userId);
    expect(kept).not.toBeNull();
    const marks = createRegistry(services().redis, "feed:upkept");
    const markOf = async () => Number(await services().redis.zscore(marks.keyOf(userId), userId));
    expect(await markOf()).toBe(kept!.getTime() + 86_400_000); // Redis says so too, until the day ends
    await services().upkeep.upkeep(userId);
    expect((await services().feeds.upkept(userId))!.getTime()).toBe(kept!.getTime());
    // Redis lost the mark (a flush): Cassandra's time still holds, and is marked again.
    await services().redis.zrem(marks.keyOf(userId), userId);
    await services().upkeep.upkeep(userId);
    expect((await services().feeds.upkept(userId))!.getTime()).toBe(kept!.getTime());
    expect(await markOf()).toBe(kept!.getTime() + 86_400_000);
  });
});
