import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sweepInactive } from "../../src/fanout/inactive";
import type { Services } from "../../src/services";
import { oracle } from "../support/pipeline";
import { servedHome, signUp } from "../support/api";
import { expectConverged, expectServedConverged, feedIds, setSharedWorker, sharedWorker, sharedWorkerLog, startWorker, stopSharedWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";
import { randomWorkload } from "../support/workload";

// Inactive users through the real pipeline, with a window of 3 seconds instead of 14 days: a user
// who has not read their feed for the window is marked dormant by the sweep and gets no fan-out
// writes; on return the first page is merged from the feed's sources at once, and the feed is
// completed behind it. What is served, and in the end what Cassandra holds, must be the oracle's.

const windowMs = 3000;
const services = useServices((c) => ({ ...c, feed: { ...c.feed, inactiveMs: windowMs } }));

beforeAll(async () => {
  await stopSharedWorker();
  setSharedWorker(startWorker({ FEEDLINE_INACTIVE_DAYS: String(windowMs / 86_400_000) }));
  await sharedWorker();
});
// The files after this one get the default worker again.
afterAll(() => stopSharedWorker());

/** The sweep as a worker runs it, once the window has passed since anyone read (and since the sweep first looked). */
async function sweepAfterTheWindow(s: Services) {
  await sweepInactive(s);
  await Bun.sleep(windowMs + 500);
  return sweepInactive(s);
}

describe("inactive users", () => {
  test("a user who stops reading gets no fan-out writes; on return the first page is the whole feed at once, and the feed is completed behind it", async () => {
    const [author, reader] = [await signUp(services(), "quietauthor"), await signUp(services(), "away")];
    await reader.as.follows.follow({ userId: author.user.id });
    const first = `shard:${(await author.as.posts.create({ body: "before the holidays" })).id}`;
    await eventually("the first post in the reader's feed", async () => ((await servedHome(reader)).includes(first) ? true : undefined));

    const swept = await sweepAfterTheWindow(services());
    expect(swept.marked).toBeGreaterThan(0);
    expect(await services().dormancy.behind(reader.user.id)).toBe(true);

    // While the reader is away, the author posts: the author's own feed gets them, the reader's does not.
    const away = [`shard:${(await author.as.posts.create({ body: "while you were away" })).id}`, `shard:${(await author.as.posts.create({ body: "and again" })).id}`];
    await eventually("the posts in the author's own feed", async () => ((await feedIds(services(), author.user.id)).includes(away[1]!) ? true : undefined));
    expect((await feedIds(services(), reader.user.id)).filter((id) => away.includes(id))).toEqual([]);

    // Back: the first page already shows everything, merged from the feed's sources.
    expect(await servedHome(reader)).toEqual(await oracle(services(), reader.user.id));
    // Behind it, the feed is completed and the reader is no longer dormant: new posts are written to it again.
    await eventually("the reader's feed to be caught up", async () => (!(await services().dormancy.behind(reader.user.id)) ? true : undefined)).catch(async (err) => {
      throw new Error(`${(err as Error).message}${await sharedWorkerLog()}`);
    });
    expect(await feedIds(services(), reader.user.id)).toEqual(expect.arrayContaining(away));
    const after = `shard:${(await author.as.posts.create({ body: "welcome back" })).id}`;
    await eventually("the new post in the reader's rows", async () => ((await feedIds(services(), reader.user.id)).includes(after) ? true : undefined));
    await expectConverged(services(), [reader.user.id]);
  });

  test("a random workload while users go dormant and return: every feed served equals the oracle, and so does every feed Cassandra holds after the catch-ups", async () => {
    const users = await randomWorkload(services(), { users: 10, operations: 150, seed: 14 });
    // Half of them read now; then nobody does for the window, and the sweep marks them all.
    await expectServedConverged(services(), users.slice(0, 5));
    await sweepAfterTheWindow(services());
    for (const u of users) expect(await services().dormancy.behind(u)).toBe(true);

    // The same users go on while dormant: posts, likes, deletes, follows and unfollows.
    const handles = await services().sql`select id::text as id, handle from users where id in ${services().sql(users)}`;
    await randomWorkload(services(), { users: 0, operations: 250, seed: 15, existing: handles.map((r) => ({ id: r.id as string, handle: r.handle as string })) });

    // They return: what they are served is the oracle's at once, and their rows become it.
    await expectServedConverged(services(), users);
    await eventually("every feed to be caught up", async () => {
      for (const u of users) if (await services().dormancy.behind(u)) return undefined;
      return true;
    });
    await expectConverged(services(), users);
  });
});
