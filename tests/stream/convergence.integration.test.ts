import { describe, expect, test } from "bun:test";
import type { Admin } from "kafkajs";
import { consumerLag, streamGroups } from "../../src/stream/lag";
import { expectConverged, expectNotificationsAreOracle, expectRenderedAsOracle, feedIds, servedNotifications, setSharedWorker, sharedWorker, startWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";
import { randomWorkload } from "../support/workload";

// The oracle (the contract's home feed computed from PostgreSQL by SQL) against every user's feed in
// Cassandra, after a randomised workload, a worker killed with SIGKILL mid-stream, and a replay of
// every topic from the beginning.

const services = useServices();

describe("convergence", () => {
  test("after a randomised workload across many users, every feed and every user's notifications equal the oracle, every item rendered as PostgreSQL says", async () => {
    await sharedWorker();
    const users = await randomWorkload(services(), { users: 16, operations: 400, seed: 42 });
    await expectConverged(services(), users, 90_000);
    await expectNotificationsAreOracle(services(), users);
    await expectRenderedAsOracle(services(), users);
    // Renamed users (and new display names) render anew in every item about them or by them.
    for (const u of users.slice(0, 4)) {
      await services().sql`update users set handle = handle || '_r', display_name = 'renamed ' || id where id = ${u}`;
    }
    await expectRenderedAsOracle(services(), users);
    await expectNotificationsAreOracle(services(), users);
  });

  test("a worker killed with SIGKILL mid-stream and restarted leaves nothing missing and nothing doubled", async () => {
    const worker = await sharedWorker();
    let killed = false;
    const restarted = (async () => {
      await eventually("the workload to get going", () => (killed ? true : undefined), 60_000);
      await worker.kill();
      const next = startWorker();
      setSharedWorker(next);
      return next;
    })();
    const users = await randomWorkload(services(), {
      users: 16,
      operations: 600,
      seed: 7,
      onProgress: (done) => {
        if (done === 200) killed = true;
      },
    });
    await restarted;
    await expectConverged(services(), users, 120_000);
    await expectNotificationsAreOracle(services(), users);
    for (const u of users) {
      const ids = await feedIds(services(), u);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  test("resetting both consumer groups to the beginning and re-consuming everything leaves every feed unchanged", async () => {
    const users = await randomWorkload(services(), { users: 8, operations: 150, seed: 99 });
    await sharedWorker();
    await expectConverged(services(), users, 90_000);
    await expectNotificationsAreOracle(services(), users);
    const before = await Promise.all(users.map((u) => feedIds(services(), u)));
    const notificationsBefore = await Promise.all(users.map(async (u) => ({ groups: await servedNotifications(services(), u), unseen: await services().notifications.unseen(u) })));

    const worker = await sharedWorker();
    await worker.stop();
    const { config } = services();
    const admin = services().kafka.admin();
    await admin.connect();
    try {
      for (const g of streamGroups(config)) await resetToEarliest(admin, g.groupId, g.topics);
      const next = startWorker();
      setSharedWorker(next);
      await next;
      // Everything every earlier test wrote goes through again: on a loaded 2-core machine that
      // has taken from 90 s to well over 3 minutes. The bound is generous; the check is equality.
      await eventually("both groups to catch up", () => caughtUp(admin, config), 600_000);
    } finally {
      await admin.disconnect();
    }
    const after = await Promise.all(users.map((u) => feedIds(services(), u)));
    expect(after).toEqual(before);
    // The same groups, and no place left behind in page order (the unseen count reads those).
    expect(await Promise.all(users.map(async (u) => ({ groups: await servedNotifications(services(), u), unseen: await services().notifications.unseen(u) })))).toEqual(notificationsBefore);
    await expectConverged(services(), users, 10_000);
  }, 900_000);
});

/** Resets a stopped group's committed offsets to the start of each topic (the group must have no live members). */
async function resetToEarliest(admin: Admin, groupId: string, topics: string[]) {
  await eventually(`group ${groupId} to be empty`, async () => {
    const [group] = (await admin.describeGroups([groupId])).groups;
    return !group || group.members.length === 0 ? true : undefined;
  }, 60_000);
  for (const topic of topics) await admin.resetOffsets({ groupId, topic, earliest: true });
}

/** True once both groups have committed up to the end of every partition they read. */
async function caughtUp(admin: Admin, config: ReturnType<typeof services>["config"]) {
  return (await consumerLag(admin, config)).every((r) => r.lag === 0) ? true : undefined;
}
