import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { accountKeys, cacheKeys } from "../../src/feeds/cache-keys";
import { expectServedIsOracle, openLive, signUp, type User } from "../support/api";
import { expectServedConverged, feedIds, setSharedWorker, sharedWorker, sharedWorkerLog, startWorker, stopSharedWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";
import { randomWorkload } from "../support/workload";

// Hybrid fan-out through the real pipeline, with a threshold low enough for a test: an account
// with 4 followers or more is pulled into its followers' pages at read time, and pushed again
// below 3. What a client is served must stay the contract's feed (the SQL oracle, paged to the
// end) through every switch, in both directions.

const services = useServices();
const hybrid = { FEEDLINE_HYBRID_THRESHOLD: "4", FEEDLINE_HYBRID_PUSH_BELOW: "3" };

beforeAll(async () => {
  await stopSharedWorker();
  setSharedWorker(startWorker(hybrid));
  await sharedWorker();
});
// The files after this one get the default worker again.
afterAll(() => stopSharedWorker());

const reach = async (u: User) => services().feeds.reach(u.user.id);
const follow = (fan: User, celeb: User) => services().writes.follow(fan.user.id, celeb.user.id);
const unfollow = (fan: User, celeb: User) => services().writes.unfollow(fan.user.id, celeb.user.id);
const post = async (u: User, body: string) => `shard:${(await services().writes.createPost(u.user.id, { body })).id}`;
const expectAllServedAsOracle = (users: User[]) => Promise.all(users.map((u) => expectServedIsOracle(services(), u, 60_000)));

async function waitForMode(u: User, pulled: boolean) {
  await eventually(`${u.user.handle} to be ${pulled ? "pulled" : "pushed"}`, async () => ((await reach(u)).pulled === pulled ? true : undefined), 45_000).catch(async (err) => {
    throw new Error(`${(err as Error).message}${await sharedWorkerLog()}`);
  });
}

/** A celebrity and `n` fans, each a signed-up user. */
async function crowd(n: number) {
  const celeb = await signUp(services(), "celeb");
  const fans = await Promise.all(Array.from({ length: n }, () => signUp(services(), "fan")));
  return { celeb, fans };
}

describe("hybrid fan-out", () => {
  test("an account reaching the threshold is pulled: its new posts are written once, and every follower's page merges them in", async () => {
    const { celeb, fans } = await crowd(5);
    const early = await post(celeb, "before the crowd");
    for (const fan of fans.slice(0, 3)) await follow(fan, celeb);
    await expectAllServedAsOracle(fans.slice(0, 3));
    expect((await reach(celeb)).pulled).toBe(false);

    for (const fan of fans.slice(3)) await follow(fan, celeb);
    await waitForMode(celeb, true);
    const late = [await post(celeb, "to the crowd"), await post(celeb, "again")];
    await expectAllServedAsOracle([celeb, ...fans]);

    expect(await reach(celeb)).toEqual({ followers: 5, pulled: true });
    for (const fan of fans) {
      const rows = await feedIds(services(), fan.user.id);
      // Written once: the posts after the switch are in no follower's rows, only merged in.
      expect(rows.filter((id) => late.includes(id))).toEqual([]);
      expect((await services().feeds.sources(fan.user.id)).map((s) => s.userId)).toEqual([celeb.user.id]);
    }
    // Pushed before the switch and still in the first followers' rows: pages show it once.
    expect(await feedIds(services(), fans[0]!.user.id)).toContain(early);
    expect(await feedIds(services(), celeb.user.id)).toEqual(expect.arrayContaining([early, ...late]));
  });

  test("while pulled, a deleted post, a like and an unlike, an unfollow and a new follow each leave every feed as the oracle has it", async () => {
    const { celeb, fans } = await crowd(6);
    const pushed = await post(celeb, "pushed before the switch");
    for (const fan of fans.slice(0, 5)) await follow(fan, celeb);
    await waitForMode(celeb, true);
    const pulled = await post(celeb, "pulled");
    await post(celeb, "kept");
    await expectAllServedAsOracle(fans.slice(0, 5));

    // Deletes, pushed copy or not, leave every feed.
    await services().writes.deletePost(celeb.user.id, pushed.slice("shard:".length));
    await services().writes.deletePost(celeb.user.id, pulled.slice("shard:".length));
    // The account likes a fan's post, then unlikes another.
    const fanPost = (await services().writes.createPost(fans[0]!.user.id, { body: "a fan's post" })).id;
    await services().writes.like(celeb.user.id, fanPost);
    const other = (await services().writes.createPost(fans[1]!.user.id, { body: "another" })).id;
    await services().writes.like(celeb.user.id, other);
    await services().writes.unlike(celeb.user.id, other);
    // One fan leaves (4 left: still pulled), another arrives.
    await unfollow(fans[0]!, celeb);
    await follow(fans[5]!, celeb);
    await expectAllServedAsOracle([celeb, ...fans]);
    expect((await services().feeds.sources(fans[0]!.user.id)).map((s) => s.userId)).not.toContain(celeb.user.id);
    expect(await reach(celeb)).toEqual({ followers: 5, pulled: true });
  });

  test("an account falling below the lower line is pushed again: every follower's feed holds its newest items, none twice", async () => {
    const { celeb, fans } = await crowd(5);
    for (const fan of fans) await follow(fan, celeb);
    await waitForMode(celeb, true);
    const posts = [await post(celeb, "one"), await post(celeb, "two"), await post(celeb, "three")];
    await expectAllServedAsOracle(fans);

    // 5 → 3 followers: still pulled (3 is not below 3); → 2: pushed.
    await unfollow(fans[0]!, celeb);
    await unfollow(fans[1]!, celeb);
    await unfollow(fans[2]!, celeb);
    await waitForMode(celeb, false);
    const after = await post(celeb, "pushed again");
    await expectAllServedAsOracle([celeb, ...fans]);
    for (const fan of fans.slice(3)) {
      expect(await feedIds(services(), fan.user.id)).toEqual(expect.arrayContaining([...posts, after]));
      expect(await services().feeds.sources(fan.user.id)).toEqual([]);
    }
  });

  test("a rename of a pulled account shows in every follower's page, from its own cache", async () => {
    const { celeb, fans } = await crowd(4);
    await post(celeb, "before the switch");
    for (const fan of fans) await follow(fan, celeb);
    await waitForMode(celeb, true);
    await post(celeb, "after the switch");
    await expectAllServedAsOracle(fans);
    await services().sql`update users set handle = handle || '_r' where id = ${celeb.user.id}`;
    // The oracle renders the new handle on every item of the account, pushed before or merged in.
    await expectAllServedAsOracle(fans);
  });

  test("a live stream hears a pulled account's posts: pulled while it listens, followed while pulled, pushed again", async () => {
    const { celeb, fans } = await crowd(5);
    for (const fan of fans.slice(0, 3)) await follow(fan, celeb);
    const stream = await openLive(services(), fans[0]!);
    for (const fan of fans.slice(3)) await follow(fan, celeb);
    await waitForMode(celeb, true);
    const pulled = await post(celeb, "pulled, live");
    await eventually("the pulled post on the stream", () => (stream.adds().includes(pulled) ? true : undefined));

    // A follower who joins while the account is pulled, listening before the follow.
    const late = await signUp(services(), "late");
    const lateStream = await openLive(services(), late);
    await follow(late, celeb);
    await eventually("the follow to reach the feed's sources", async () =>
      (await services().feeds.sources(late.user.id)).some((s) => s.userId === celeb.user.id) ? true : undefined,
    );
    const next = await post(celeb, "to everyone listening");
    await eventually("the next post on both streams", () => (stream.adds().includes(next) && lateStream.adds().includes(next) ? true : undefined));

    // Back below the line: pushed again, and still heard.
    for (const fan of [...fans.slice(1, 4), late]) await unfollow(fan, celeb);
    await waitForMode(celeb, false);
    const pushed = await post(celeb, "pushed, live");
    await eventually("the pushed post on the stream", () => (stream.adds().includes(pushed) ? true : undefined));
    await stream.close();
    await lateStream.close();
    expect(new Set(stream.adds()).size).toBe(stream.adds().length);
    expect(stream.adds()).toEqual(expect.arrayContaining([pulled, next, pushed]));
  });

  test("a random workload whose accounts cross the threshold both ways: every feed served equals the oracle, from the caches and rebuilt from Cassandra", async () => {
    const worker = await sharedWorker();
    const users = await randomWorkload(services(), {
      users: 10,
      operations: 500,
      seed: 2026,
      // About as many unfollows as follows: follower counts wander across the lines and back.
      weights: { follow: 5, unfollow: 4, post: 4, deletePost: 1, like: 2, unlike: 1, comment: 2, deleteComment: 1 },
    });
    await expectServedConverged(services(), users);
    const log = worker.output();
    expect(log).toContain("is pulled at read time now");
    expect(log).toContain("is pushed again");

    // Once more with every cache dropped: pages rebuilt from Cassandra show the same feeds.
    await services().redis.del(...users.flatMap((u) => [...cacheKeys(u), ...accountKeys(u)]));
    await expectServedConverged(services(), users);
  });
});
