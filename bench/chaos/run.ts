import type { Admin } from "kafkajs";
import type { Services } from "../../src/services";
import { type Service, startService, totalLag, waitForPipeline } from "../pipeline";
import { cassandraPause, type Fault, stackFault, startWorkerService, type Target, workerFault, workerSessionMs } from "./faults";
import { checkFeeds, type FeedCheck } from "./check";
import { type ApiUser, runWorkload, signUpMany, untilAnswered, type WorkloadStats } from "./workload";

/**
 * One chaos run: an API process and a worker process; a concurrent workload through the public
 * API; then, one after another, each target is SIGKILLed (or paused with SIGSTOP) in the middle
 * of a large fan-out (a user with many followers posting) and a follow backfill, held down, and
 * brought back with the project's own command (or SIGCONT). For each: how long it was down, how long from answering again until
 * the pipeline is caught up and fresh, and how many writes were answered "retry". Once writes
 * stop, every feed is compared with the PostgreSQL oracle, paged to the end through the API.
 *
 * Hybrid fan-out under the same faults: a star account, seeded with 10 more followers than the
 * celebrity, sits 2 below the workers' FEEDLINE_HYBRID_THRESHOLD. It posts at every fault and
 * gains a follower; from the second half of the faults on it also loses two, so that it is
 * pulled (at the second fault) and pushed again (by the last, with four faults or more) while
 * components die around it. The celebrity stays below the threshold: its fan-outs are pushed.
 */
export interface ChaosOptions {
  targets: Target[];
  users: number;
  rate: number;
  holdMs: number;
  celebrityFollowers: number;
  celebrityPosts: number;
  seed: number;
  log: (line: string) => void;
}

export interface Recovery {
  target: Target;
  signal: Fault["signal"];
  downSeconds: number;
  /** From answering again until a fresh write is visible within a second and the lag reads 0. */
  recoverySeconds: number;
  rejectedWrites: number;
  /** Home-feed pages read while it was down, and how many of them failed. */
  reads: number;
  failedReads: number;
}

export async function runChaos(services: Services, admin: Admin, o: ChaosOptions) {
  const stats: WorkloadStats = { done: 0, refused: 0, rejectedAt: [], rejectedWhy: [] };
  const api = await startService({ role: "api" });
  const starFollowers = o.celebrityFollowers + 10;
  const hybrid = { FEEDLINE_HYBRID_THRESHOLD: String(starFollowers + 2), FEEDLINE_HYBRID_PUSH_BELOW: String(starFollowers + 1) };
  const startWorker = () => startWorkerService(hybrid);
  const worker = workerFault(startWorker, await startWorker());
  try {
    o.log(`signing up ${o.users} users, a celebrity with ${o.celebrityFollowers} followers and ${o.celebrityPosts} posts, and a star with ${starFollowers} (the hybrid threshold ${hybrid.FEEDLINE_HYBRID_THRESHOLD})`);
    const users = await signUpMany(api.url, o.users, "chaos", stats);
    const [celebrity, probeAuthor, probeReader, star] = await signUpMany(api.url, 4, "chaosx", stats);
    const followers = await seedCelebrity(services, celebrity!.id, o.celebrityFollowers, o.celebrityPosts);
    const starSeeded = await seedCelebrity(services, star!.id, starFollowers, o.celebrityPosts);
    const starFans = [...starSeeded];
    const starModes: boolean[] = [];
    await untilAnswered(stats, (idempotencyKey) => probeReader!.as.follows.follow.mutate({ userId: probeAuthor!.id, idempotencyKey }));
    await waitForPipeline(services, admin, celebrity!.id, { timeoutMs: 600_000, label: "building the celebrity's followers' feeds" });
    await probeReader!.as.feed.home.query({ limit: 5 }); // warm the reader's cache, as a live reader's would be

    let stop!: () => void;
    const until = new Promise<void>((r) => (stop = r));
    const writing = runWorkload({ users, rate: o.rate, inFlight: 8, seed: o.seed, stats, until });
    const backfillers: ApiUser[] = [];
    const recoveries: Recovery[] = [];
    await Bun.sleep(3000);
    for (const target of o.targets) {
      const fault: Fault =
        target === "worker" ? worker.fault
        : target === "worker-pause" ? worker.pause(workerSessionMs)
        : target === "cassandra-pause" ? cassandraPause(services.config)
        : stackFault(services.config, target);
      // A large fan-out and a follow backfill in flight when the fault hits.
      const [fan] = await signUpMany(api.url, 1, "chaosb", stats);
      backfillers.push(fan!);
      await untilAnswered(stats, (idempotencyKey) => celebrity!.as.posts.create.mutate({ body: `celebrity before ${target} dies`, idempotencyKey }));
      await untilAnswered(stats, (idempotencyKey) => fan!.as.follows.follow.mutate({ userId: celebrity!.id, idempotencyKey }));
      await untilAnswered(stats, (idempotencyKey) => star!.as.posts.create.mutate({ body: `star before ${target} dies`, idempotencyKey }));
      await untilAnswered(stats, (idempotencyKey) => fan!.as.follows.follow.mutate({ userId: star!.id, idempotencyKey }));
      if (recoveries.length >= Math.floor(o.targets.length / 2)) {
        await services.sql`delete from follows where followee_id = ${star!.id} and follower_id in ${services.sql(starFans.splice(0, 2))}`;
      }
      await Bun.sleep(150);
      recoveries.push(await injectFault(fault, o, stats, { api, services, admin, probeAuthor: probeAuthor!, probeReader: probeReader! }));
      const r = recoveries.at(-1)!;
      o.log(`${target}: down ${r.downSeconds.toFixed(1)} s, recovered ${r.recoverySeconds.toFixed(1)} s after answering, ${r.rejectedWrites} writes answered "retry", ${r.failedReads}/${r.reads} home pages failed while down`);
      const why = stats.rejectedWhy!.splice(0);
      if (why.length > 0) o.log(`${target}: writes answered "retry": ${[...new Set(why)].join("; ")}`);
      await Bun.sleep(3000);
      starModes.push((await services.feeds.reach(star!.id)).pulled);
    }
    stop();
    await writing;
    o.log(`workload done: ${stats.done} operations, ${stats.refused} typed refusals, ${stats.rejectedAt.length} retries`);
    await waitForPipeline(services, admin, celebrity!.id, { timeoutMs: 600_000, label: "waiting for the pipeline to catch up" });
    const everyone = [...users, celebrity!, probeAuthor!, probeReader!, star!, ...backfillers].map((u) => u.id);
    const starMode = (await services.feeds.reach(star!.id)).pulled ? "pulled" : "pushed";
    o.log(`star: ${starModes.map((p) => (p ? "pulled" : "pushed")).join(", ")} after each fault; ${starMode} at the end`);
    const check = await checkFeeds(services, api.url, [...everyone, ...followers, ...starSeeded]);
    o.log(`feeds: ${check.users} users, ${check.entries} entries, ${check.missing} missing, ${check.extra} extra, ${check.doubled} doubled, ${check.misordered} out of order; ${check.readRetries} reads answered "retry" and sent again; notifications: ${check.notificationGroups} groups, ${check.notificationsWrong} not as the oracle has them`);
    return { recoveries, check, stats, starModes: [...starModes, starMode === "pulled"] };
  } finally {
    await worker.worker().stop();
    await api.stop();
  }
}

/** Kills, holds, restores, and measures one fault. */
async function injectFault(
  fault: Fault,
  o: ChaosOptions,
  stats: WorkloadStats,
  ctx: { api: Service; services: Services; admin: Admin; probeAuthor: ApiUser; probeReader: ApiUser },
): Promise<Recovery> {
  await fault.kill();
  const killedAt = Date.now();
  const holdMs = Math.max(o.holdMs, fault.minHoldMs ?? 0);
  o.log(`${fault.target}: ${fault.signal === "SIGSTOP" ? "paused" : "killed"}; holding it down ${holdMs / 1000} s`);
  // A reader with a warm cache keeps reading its home feed: no outage may take its page away
  // (Redis down: pages come from Cassandra; Cassandra down: from the cache).
  const reads = { done: 0, failed: 0 };
  const holdUntil = Date.now() + holdMs;
  while (Date.now() < holdUntil) {
    const ok = await ctx.probeReader.as.feed.home.query({ limit: 5 }).then(() => true, () => false);
    reads.done++;
    if (!ok) reads.failed++;
    await Bun.sleep(250);
  }
  let answeredAt: number | undefined;
  const watching = (async () => {
    while (answeredAt === undefined) {
      if (await fault.answers()) answeredAt = Date.now();
      else await Bun.sleep(250);
    }
  })();
  await fault.restore();
  await watching;
  const recoveredAt = await recovered(ctx, answeredAt!, 300_000);
  return {
    target: fault.target,
    signal: fault.signal,
    downSeconds: (answeredAt! - killedAt) / 1000,
    recoverySeconds: (recoveredAt - answeredAt!) / 1000,
    rejectedWrites: stats.rejectedAt.filter((t) => t >= killedAt && t <= recoveredAt).length,
    reads: reads.done,
    failedReads: reads.failed,
  };
}

/** The first time, after `from`, that a post written now is in a follower's page within a second and the lag reads 0. */
async function recovered(ctx: { services: Services; admin: Admin; probeAuthor: ApiUser; probeReader: ApiUser }, from: number, timeoutMs: number) {
  const scratch: WorkloadStats = { done: 0, refused: 0, rejectedAt: [] };
  while (Date.now() - from < timeoutMs) {
    const post = await untilAnswered(scratch, (idempotencyKey) => ctx.probeAuthor.as.posts.create.mutate({ body: "probe", idempotencyKey }));
    const written = Date.now();
    let visible = false;
    while (!visible && Date.now() - written < 1000) {
      const page = await ctx.probeReader.as.feed.home.query({ limit: 5 }).catch(() => undefined);
      visible = Boolean(page?.items.some((i) => i.id === `shard:${post!.id}`));
      if (!visible) await Bun.sleep(50);
    }
    const lag = await totalLag(ctx.admin, ctx.services).catch(() => Number.NaN);
    if (visible && lag === 0) return Date.now();
    await Bun.sleep(500);
  }
  throw new Error(`the pipeline did not recover within ${timeoutMs / 1000} s of the component answering again`);
}

/** The celebrity's followers and older posts, written straight into PostgreSQL (as an import would be). */
async function seedCelebrity(services: Services, celebrityId: string, followers: number, posts: number) {
  const { sql } = services;
  const tag = Math.random().toString(36).slice(2, 8);
  const ids = await sql`
    insert into users (handle) select 'cf_' || ${tag} || '_' || g from generate_series(1, ${followers}) g returning id`;
  await sql`insert into follows (follower_id, followee_id) select id, ${celebrityId} from users where handle like ${`cf\\_${tag}\\_%`}`;
  await sql`
    insert into posts (author_id, body, created_at)
    select ${celebrityId}, 'celebrity post ' || g, now() - (g || ' minutes')::interval from generate_series(1, ${posts}) g`;
  return ids.map((r) => String(r.id));
}

export type ChaosReport = Awaited<ReturnType<typeof runChaos>>;
export type { FeedCheck };
