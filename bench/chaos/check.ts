import type { Services } from "../../src/services";
import type { Notification } from "../../src/model/notification";
import { compareFeeds, type FeedDiff, homeOracle, notificationsOracle, profileOracle } from "../oracle";
import { inParallel } from "../../src/parallel";
import { apiClient } from "../pipeline";
import { statusLine } from "../support";
import { type Client, isRetryable } from "./workload";

/**
 * Every user's home feed, profile and notification groups, read through the public API with
 * `limit: 100` and paged to the end, compared with the PostgreSQL oracle. Returns the totals and
 * the first differences (`notificationsWrong`: groups missing, extra, or not as the oracle has them).
 */
export async function checkFeeds(services: Services, url: string, userIds: string[]) {
  const length = services.config.feed.length;
  const totals = { users: userIds.length, entries: 0, missing: 0, extra: 0, doubled: 0, misordered: 0, readRetries: 0, notificationGroups: 0, notificationsWrong: 0 };
  const onRetry = () => void totals.readRetries++;
  const failures: string[] = [];
  let done = 0;
  const progress = statusLine();
  await inParallel(userIds, 8, async (userId) => {
    const as = apiClient(url, services.tokens.mint(userId));
    for (const [feed, want, got] of [
      ["home", await homeOracle(services.sql, userId), await pageAll(as, "home", userId, onRetry)],
      ["profile", await profileOracle(services.sql, userId), await pageAll(as, "user", userId, onRetry)],
    ] as const) {
      const diff = compareFeeds(want, got, feed === "home" ? length : Number.POSITIVE_INFINITY);
      totals.entries += got.length;
      for (const k of ["missing", "extra", "doubled", "misordered"] as const) totals[k] += diff[k];
      if (bad(diff) && failures.length < 5) {
        const wanted = new Set(want);
        const extra = got.flatMap((id, i) => (wanted.has(id) ? [] : [`${id} (at ${i})`]));
        const twice = [...new Set(got.filter((id, i) => got.indexOf(id) !== i))];
        failures.push(
          `${feed} feed of user ${userId}: ${JSON.stringify(diff)}${extra.length ? `; not in the oracle: ${extra.join(", ")}` : ""}` +
            `${twice.length ? `; twice: ${twice.map((id) => `${id} (at ${got.flatMap((g, i) => (g === id ? [i] : [])).join(", ")})`).join("; ")}` : ""}\n` +
            `${await storedRows(services, feed, userId, twice)}` +
            `  oracle: ${want.slice(0, 20).join(" ")}\n  served: ${got.slice(0, 20).join(" ")}`,
        );
      }
    }
    const [wantGroups, gotGroups] = [await notificationsOracle(services.sql, userId, services.config.notifications.windowMs), await listAll(as, onRetry)];
    const served = new Map(gotGroups.map(({ seen: _s, read: _r, ...g }) => [g.id, JSON.stringify(g)]));
    const wrong = wantGroups.filter((g) => served.get(g.id) !== JSON.stringify(g)).length + Math.max(0, gotGroups.length - wantGroups.length);
    const inOrder = JSON.stringify(gotGroups.map((g) => g.id)) === JSON.stringify(wantGroups.map((g) => g.id));
    totals.notificationGroups += gotGroups.length;
    totals.notificationsWrong += wrong + (wrong === 0 && !inOrder ? 1 : 0);
    if ((wrong > 0 || !inOrder) && failures.length < 5) {
      failures.push(`notifications of user ${userId}: ${wrong} groups differ${inOrder ? "" : ", out of order"}\n  oracle: ${JSON.stringify(wantGroups.slice(0, 3))}\n  served: ${JSON.stringify(gotGroups.slice(0, 3))}`);
    }
    progress.update(`checked ${++done}/${userIds.length} users`);
  });
  progress.done();
  return { ...totals, failures };
}

const bad = (d: FeedDiff) => d.missing + d.extra + d.doubled + d.misordered > 0;

/** The rows Cassandra holds for items a feed served twice, with their write times: what a failure needs to be understood. */
async function storedRows(services: Services, feed: "home" | "profile", userId: string, ids: string[]) {
  if (ids.length === 0) return "";
  const [table, key] = feed === "home" ? ["home_feed", "user_id"] : ["activities_by_actor", "actor_id"];
  const rows = await services.cassandra.execute(`SELECT created_at, activity_id, WRITETIME(item) AS ts FROM ${table} WHERE ${key} = ?`, [userId]);
  const held = rows.rows.filter((r) => ids.includes(r.activity_id as string)).map((r) => `${r.activity_id} at ${(r.created_at as Date).toISOString()} (write time ${r.ts})`);
  return `  ${table} holds: ${held.join("; ")}\n`;
}

/**
 * A read sent again, as a client following the contract would, while the service answers
 * "retry" (503 `canRetry`: a store still settling after the last fault, a Cassandra driver
 * closing a connection that timed out during a freeze): at most 20 times, 0.5 s apart. Each
 * retry is counted in the report.
 */
async function withRetries<T>(read: () => Promise<T>, onRetry: () => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (!isRetryable(err) || attempt >= 20) throw err;
      onRetry();
      await Bun.sleep(500);
    }
  }
}

/** All item ids of a feed, newest first, page by page through the API. */
async function pageAll(as: Client, feed: "home" | "user", userId: string, onRetry: () => void) {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: { id: string }[]; nextCursor: string | null } = await withRetries(
      () => (feed === "home" ? as.feed.home.query({ limit: 100, cursor }) : as.feed.user.query({ userId, limit: 100, cursor })),
      onRetry,
    );
    ids.push(...page.items.map((i) => i.id));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

/** Every notification group of the client's user, newest first, page by page through the API. */
async function listAll(as: Client, onRetry: () => void) {
  const groups: Notification[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: Notification[]; nextCursor: string | null } = await withRetries(() => as.notifications.list.query({ limit: 100, cursor }), onRetry);
    groups.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return groups;
}

export type FeedCheck = Awaited<ReturnType<typeof checkFeeds>>;
