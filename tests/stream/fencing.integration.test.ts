import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { signUp } from "../support/api";
import { totalLag } from "../../bench/pipeline";
import { feedIds, oracle, sharedWorker, startWorker, stopSharedWorker, type WorkerProcess } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

// A member that lost its partition must not undo what the partition's new owner applied since:
// neither a feed worker (below) nor a router (the second test).
// Worker A holds each batch for a while before applying it (FEEDLINE_STREAM_APPLY_DELAY_MS), so
// it can be frozen (SIGSTOP) with a "post created" event in hand. Past its session timeout,
// worker B takes the partition, applies the creation and then the deletion. A is woken (SIGCONT)
// and goes on with the creation it holds: its lease has run out and its writes carry an older
// write time, so the post stays deleted everywhere.

const services = useServices();
const session = { FEEDLINE_STREAM_SESSION_TIMEOUT_MS: "6000" };
let a: WorkerProcess | undefined;
let b: WorkerProcess | undefined;

beforeAll(async () => {
  // A drains whatever earlier tests left (a snapshot, say) one held batch at a time: start it idle.
  await sharedWorker();
  const admin = services().kafka.admin();
  await admin.connect();
  try {
    await eventually("the stream to be idle", async () => ((await totalLag(admin, services())) === 0 ? true : undefined), 600_000);
  } finally {
    await admin.disconnect();
  }
  await stopSharedWorker();
});
afterAll(async () => {
  a?.signal("SIGCONT");
  await a?.kill();
  await b?.stop();
});

describe("a stale member wakes up with a creation in hand", () => {
  test("after SIGCONT the post stays deleted: in the author's activities, in every feed, in the cache", async () => {
    a = await startWorker({ ...session, FEEDLINE_STREAM_APPLY_DELAY_MS: "3000" });
    const [author, reader] = [await signUp(services(), "fence"), await signUp(services(), "reader")];
    await reader.as.follows.follow({ userId: author.user.id });
    await eventually("the follow applied", async () => ((await feedIds(services(), reader.user.id)).length > 0 ? true : undefined), 60_000);
    // The follow's edge goes to the author's partition, in a batch A holds for 3 s of its own; the
    // creation below must not queue behind it, or A would take it past the window.
    await eventually("the follow's edge applied", async () => ((await services().feeds.followers(author.user.id)).includes(reader.user.id) ? true : undefined), 60_000);
    // The reader's cache is warm, so the cache is part of "everywhere".
    await reader.as.feed.home({ limit: 10 });
    const [, items] = services().feedCache.keys(reader.user.id);
    await eventually("the cache to be ready", async () => ((await services().redis.hget(items, "__state")) === "ready" ? true : undefined));

    const seen = a.output().length;
    const post = await author.as.posts.create({ body: "about to be deleted" });
    const id = `shard:${post.id}`;
    await eventually("A to hold the creation", async () => (a!.output().slice(seen).includes("holding") ? true : undefined), 2800);
    a.signal("SIGSTOP");

    b = await startWorker(session); // joins once A is expelled: past A's session timeout
    await eventually("B to apply the creation", async () => ((await feedIds(services(), reader.user.id)).includes(id) ? true : undefined), 60_000);
    await author.as.posts.delete({ postId: post.id });
    const gone = async () => {
      const [activities, authorFeed, readerFeed, page] = await Promise.all([
        services().feeds.activities(author.user.id, 100),
        feedIds(services(), author.user.id),
        feedIds(services(), reader.user.id),
        services().cachePages.page(reader.user.id, 100),
      ]);
      return !activities.some((x) => x.id === id) && !authorFeed.includes(id) && !readerFeed.includes(id) && !page?.items.some((x) => x.id === id);
    };
    await eventually("B to apply the deletion", async () => ((await gone()) ? true : undefined), 60_000);

    const before = a.output().length;
    a.signal("SIGCONT");
    await eventually("A to wake and stop its batch", async () => (a!.output().slice(before).includes("may have lost its partition") ? true : undefined), 30_000);
    await Bun.sleep(2000);
    expect(await gone()).toBe(true);
    for (const u of [author, reader]) expect(await feedIds(services(), u.user.id)).toEqual(await oracle(services(), u.user.id));
    expect((await reader.as.feed.home({ limit: 100 })).items.map((i) => i.id)).not.toContain(id);
  });
});

describe("a stale router wakes up with a creation in hand", () => {
  test("after SIGCONT it produces nothing, so the post stays deleted: a creation routed again after its deletion would bring it back", async () => {
    // A routes each batch only after holding it (FEEDLINE_STREAM_ROUTE_DELAY_MS); frozen with the
    // creation in hand, it would append it after B's creation and deletion, at later offsets.
    a?.signal("SIGCONT");
    await a?.kill();
    await b?.stop();
    // The users and the follow go through a worker without the hold; A starts with nothing to route.
    const setUp = await startWorker(session);
    const [author, reader] = [await signUp(services(), "rfence"), await signUp(services(), "reader")];
    await reader.as.follows.follow({ userId: author.user.id });
    await eventually("the follow applied", async () => ((await services().feeds.followers(author.user.id)).includes(reader.user.id) ? true : undefined), 60_000);
    await setUp.stop();
    a = await startWorker({ ...session, FEEDLINE_STREAM_ROUTE_DELAY_MS: "8000" });

    const seen = a.output().length;
    const post = await author.as.posts.create({ body: "about to be deleted, routed twice" });
    const id = `shard:${post.id}`;
    // Its batches are held one fetch after another, so the creation may wait for a held batch before its own.
    await eventually("A to hold the creation", async () => (/\[router\] holding .*\.public\.posts\//.test(a!.output().slice(seen)) ? true : undefined), 7800);
    a.signal("SIGSTOP");

    b = await startWorker(session); // joins once A is expelled: past A's session timeout
    await eventually("B to route and apply the creation", async () => ((await feedIds(services(), reader.user.id)).includes(id) ? true : undefined), 60_000);
    await author.as.posts.delete({ postId: post.id });
    const gone = async () => !(await feedIds(services(), reader.user.id)).includes(id) && !(await feedIds(services(), author.user.id)).includes(id);
    await eventually("B to apply the deletion", async () => ((await gone()) ? true : undefined), 60_000);

    const before = a.output().length;
    a.signal("SIGCONT");
    await Bun.sleep(6000); // A's hold is over at once; a stale creation, had it been routed, would be applied by B by now
    expect(await gone()).toBe(true);
    for (const u of [author, reader]) expect(await feedIds(services(), u.user.id)).toEqual(await oracle(services(), u.user.id));
    expect(a.output().slice(before)).toContain("[router] stopped the batch");
  });
});
