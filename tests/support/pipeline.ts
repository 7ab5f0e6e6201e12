import { compareFeeds, compareRendering, homeOracle, notificationActorsOracle, notificationsOracle, renderedOracle } from "../../bench/oracle";
import type { Item } from "../../src/model/feed";
import type { Notification } from "../../src/model/notification";
import { launchService, type ServiceProcess } from "../../deploy/stack/service";
import type { Services } from "../../src/services";
import { eventually, stackConfig } from "./stack";

/**
 * The whole pipeline for tests: a real worker process (`feedline serve --role worker`) consuming
 * the real topics, the SQL oracle of FEED-SPEC, and waits on convergence with a deadline.
 */

/** A worker process (deploy/stack/service.ts), all of its output kept for the test to read. */
export type WorkerProcess = ServiceProcess;

/**
 * Starts a worker process (with extra environment, if given) and waits until its /healthz is green
 * (consumers joined). stop() waits up to 2 minutes for the clean shutdown that leaves its groups.
 */
export async function startWorker(env: Record<string, string> = {}): Promise<WorkerProcess> {
  return launchService({ config: await stackConfig(), role: "worker", env, output: "keep", stopGraceMs: 120_000 });
}

/** Stops every worker still running: after the last test file (tests/support/teardown.ts). */

let shared: Promise<WorkerProcess> | undefined;

/** One worker for the whole test run, started on first use. */
export function sharedWorker() {
  shared ??= startWorker();
  return shared;
}

/** Stops the shared worker, if one runs: the next sharedWorker() starts a fresh one. */
export async function stopSharedWorker() {
  const worker = await shared?.catch(() => undefined);
  shared = undefined;
  await worker?.stop();
}

/** Replaces the shared worker (after a test killed it). */
export function setSharedWorker(worker: Promise<WorkerProcess>) {
  shared = worker;
}

/** FEED-SPEC's home feed of a user, computed from PostgreSQL (bench/oracle.ts). */
export const oracle = (services: Services, userId: string) => homeOracle(services.sql, userId);

/** The user's home feed as Cassandra holds it, ids newest first. */
export async function feedIds(services: Services, userId: string) {
  return (await services.feeds.feed(userId, 10_000)).map((i) => i.id);
}

/** Waits until every user's feed equals the oracle; on timeout, fails showing the first difference. */
export async function expectConverged(services: Services, userIds: string[], timeoutMs = 60_000) {
  let last = "";
  try {
    await eventually(
      "every feed to equal the oracle",
      async () => {
        for (const u of userIds) {
          const [want, got] = await Promise.all([oracle(services, u), feedIds(services, u)]);
          if (JSON.stringify(want) !== JSON.stringify(got)) {
            last = `user ${u}:\n  oracle: ${JSON.stringify(want)}\n  feed:   ${JSON.stringify(got)}`;
            return undefined;
          }
        }
        return true;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${last}${await sharedWorkerLog()}`);
  }
}

/** The shared worker's state and the end of its log, when one runs: what it was doing is usually why a wait on the pipeline failed. */
export async function sharedWorkerLog() {
  const worker = await shared?.catch(() => undefined);
  if (!worker) return "";
  // Its own report in detail: each stage's state, and a stage that applies nothing while its group has lag.
  const health = await fetch(`${worker.adminUrl}/healthz`, { signal: AbortSignal.timeout(5000) })
    .then((r) => r.text())
    .catch((err: Error) => `no answer: ${err.message}`);
  return `\n--- shared worker (${worker.status()}), /healthz: ${health}\nlast lines:\n${worker.output().slice(-3000)}`;
}

/** The user's whole home feed as pages serve it (the reader: cache, then Cassandra), rendered. */
export async function renderedFeed(services: Services, userId: string) {
  const items: Item[] = [];
  for (;;) {
    const last = items.at(-1);
    const page = await services.reader.home(userId, 100, last && { createdAt: new Date(last.createdAt), id: last.id });
    items.push(...page);
    if (page.length < 100) return items;
  }
}

/**
 * How a feed served to a user differs from the oracle under the retention rule (bench/oracle.ts,
 * compareFeeds), each item's rendering included; undefined when it does not.
 */
export async function servedDifference(services: Services, userId: string, items: Item[]) {
  const want = await oracle(services, userId);
  const got = items.map((i) => i.id);
  const diff = compareFeeds(want, got, services.config.feed.length);
  const misrendered = compareRendering(await renderedOracle(services.sql, got), items);
  if (diff.missing + diff.extra + diff.doubled + diff.misordered + misrendered.length === 0) return undefined;
  return `${JSON.stringify({ ...diff, misrendered: misrendered.length })}\n  oracle: ${want.slice(0, 12).join(" ")}\n  served: ${got.slice(0, 12).join(" ")}\n  ${misrendered.slice(0, 3).join("\n  ")}`;
}

/**
 * Waits until every user's feed as pages serve it (the reader, paged to the end) is the oracle's,
 * every item rendered as PostgreSQL says (`servedDifference`); on timeout, fails showing the first
 * difference. What a client sees, pulled accounts merged in.
 */
export async function expectServedConverged(services: Services, userIds: string[], timeoutMs = 90_000) {
  let last = "";
  await eventually(
    "every served feed to equal the oracle",
    async () => {
      for (const u of userIds) {
        const difference = await servedDifference(services, u, await renderedFeed(services, u));
        if (difference) return void (last = `user ${u}: ${difference}`);
      }
      return true;
    },
    timeoutMs,
  ).catch(async (err) => {
    throw new Error(`${(err as Error).message}\n${last}${await sharedWorkerLog()}`);
  });
}

/** Waits until every item of every user's served feed renders as PostgreSQL says it should; on timeout, fails showing the first few. */
export async function expectRenderedAsOracle(services: Services, userIds: string[], timeoutMs = 60_000) {
  let last: string[] = [];
  await eventually(
    "every served item to render as the oracle says",
    async () => {
      for (const u of userIds) {
        const items = await renderedFeed(services, u);
        last = compareRendering(await renderedOracle(services.sql, items.map((i) => i.id)), items).map((line) => `user ${u}: ${line}`);
        if (last.length > 0) return undefined;
      }
      return true;
    },
    timeoutMs,
  ).catch(async (err) => {
    throw new Error(`${(err as Error).message}\n${last.slice(0, 5).join("\n")}${await sharedWorkerLog()}`);
  });
}

/** The user's notification groups as `notifications.list` serves them, paged to the end (100 a page). */
export async function servedNotifications(services: Services, userId: string) {
  const items: Notification[] = [];
  for (;;) {
    const last = items.at(-1);
    const page = await services.notifications.list(userId, 100, last && { createdAt: new Date(last.updatedAt), id: last.id });
    items.push(...page.items);
    if (page.items.length < 100) return items;
  }
}

/**
 * Waits until every user's notification groups, paged to the end, equal what PostgreSQL implies
 * (bench/oracle.ts): the same groups in the same order, each with the same newest actors and
 * handles, actor count, times and rendered object; and each group's whole actor set in the store,
 * with every actor's count of actions, too. On timeout, fails showing the first difference.
 */
export async function expectNotificationsAreOracle(services: Services, userIds: string[], timeoutMs = 60_000) {
  let last = "";
  await eventually(
    "every user's notifications to equal the oracle",
    async () => {
      for (const u of userIds) {
        const [want, got] = await Promise.all([notificationsOracle(services.sql, u, services.config.notifications.windowMs), servedNotifications(services, u)]);
        const shown = got.map(({ seen: _s, read: _r, ...g }) => g);
        if (JSON.stringify(shown) !== JSON.stringify(want)) {
          const i = want.findIndex((g, j) => JSON.stringify(g) !== JSON.stringify(shown[j]));
          last = `user ${u}: ${want.length} groups in the oracle, ${got.length} served; first difference at ${i}:\n  oracle: ${JSON.stringify(want[i])}\n  served: ${JSON.stringify(shown[i])}`;
          return undefined;
        }
        for (const [groupId, actors] of await notificationActorsOracle(services.sql, u, services.config.notifications.windowMs)) {
          const rows = await services.cassandra.execute("SELECT actor_id, actions FROM notification_actors WHERE user_id = ? AND group_id = ?", [u, groupId]);
          const stored = Object.fromEntries(rows.rows.map((r) => [r.actor_id as string, r.actions as number]));
          if (JSON.stringify(stored) !== JSON.stringify(Object.fromEntries([...actors].sort(([a], [b]) => (a < b ? -1 : 1))))) {
            last = `user ${u}, group ${groupId}: actors stored ${JSON.stringify(stored)}, oracle ${JSON.stringify(Object.fromEntries(actors))}`;
            return undefined;
          }
        }
      }
      return true;
    },
    timeoutMs,
  ).catch(async (err) => {
    throw new Error(`${(err as Error).message}\n${last}${await sharedWorkerLog()}`);
  });
}
