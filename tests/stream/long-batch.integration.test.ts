import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseMetrics } from "../../bench/pipeline";
import { signUp } from "../support/api";
import { feedIds, oracle, startWorker, stopSharedWorker, type WorkerProcess } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

// A batch that takes longer than the consumer session: a celebrity's follows and posts, applied
// by a worker whose session times out after 6 s. The worker heart-beats while the batch makes
// progress, so it keeps its partition: no replay loop, every write made once, lag back to 0.

const services = useServices();
let worker: WorkerProcess;
beforeAll(async () => {
  await stopSharedWorker();
  worker = await startWorker({ FEEDLINE_STREAM_SESSION_TIMEOUT_MS: "6000" });
});
afterAll(async () => {
  await worker?.stop();
});

const metrics = async () => parseMetrics(await (await fetch(`${worker.adminUrl}/metrics`)).text());
const feedsLag = async () => (await metrics()).sum("feedline_consumer_lag", { group: services().config.stream.feedsGroup });

describe("a batch longer than the session timeout", () => {
  test("keeps its partition: each feed entry is written once and the lag returns to 0", async () => {
    // What earlier tests left (a re-consumption of every topic, say) drains first.
    await eventually("the stream to be idle", async () => ((await feedsLag()) === 0 ? true : undefined), 600_000);
    const writesBefore = (await metrics()).sum("feedline_fanout_writes_total");
    const celebrity = await signUp(services(), "longbatch");
    const [followers, posts] = [1000, 150];
    const { sql } = services();
    const tag = Math.random().toString(36).slice(2, 8);
    await sql`insert into users (handle) select 'lb_' || ${tag} || '_' || g from generate_series(1, ${followers}) g`;
    await sql`insert into follows (follower_id, followee_id) select id, ${celebrity.user.id} from users where handle like ${`lb\\_${tag}\\_%`}`;
    await sql`insert into posts (author_id, body, created_at) select ${celebrity.user.id}, 'p' || g, now() - make_interval(secs => g) from generate_series(1, ${posts}) g`;

    // Each (follower, post) pair is written once, by the post's fan-out or by the follow's
    // backfill, whichever comes second; plus each post in the author's own feed and each
    // follower's FOLLOW in its own.
    const expected = followers * posts + posts + followers;
    const started = Date.now();
    await eventually("every entry written", async () => ((await metrics()).sum("feedline_fanout_writes_total") - writesBefore >= expected ? true : undefined), 240_000);
    const took = Date.now() - started;
    await eventually("the lag to return to 0", async () => ((await feedsLag()) === 0 ? true : undefined), 60_000);
    await Bun.sleep(2000);
    expect((await metrics()).sum("feedline_fanout_writes_total") - writesBefore).toBe(expected);
    expect(took).toBeGreaterThan(6000); // the work really outlasted the session
    expect(worker.output()).not.toContain("taken away");
    const sample = (await sql`select id from users where handle like ${`lb\\_${tag}\\_%`} order by id limit 5`).map((r) => String(r.id));
    for (const u of sample) expect(await feedIds(services(), u)).toEqual(await oracle(services(), u));
  }, 900_000);
});
