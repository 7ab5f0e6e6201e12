import { beforeAll, describe, expect, test } from "bun:test";
import { createStackContext } from "../../deploy/stack/context";
import { requestSnapshot } from "../../deploy/stack/setup/snapshot";
import { signUp } from "../support/api";
import { expectConverged, feedIds, sharedWorker } from "../support/pipeline";
import { useServices } from "../support/stack";

// Derived state can always be rebuilt from PostgreSQL: snapshot rows (op=r) build feeds for
// data the workers never saw. Here the workers' state for two users is wiped from Cassandra,
// and an incremental snapshot (Debezium's signalling table) brings it all back.

const services = useServices();
beforeAll(async () => {
  await sharedWorker();
});

/**
 * Deletes a partition's rows as an operator must (docs/operations.md): each row at its own write
 * time, so that the deletes win over what is there and lose to what the stream writes later.
 */
async function wipe(table: string, key: string[], valueColumn: string, id: string) {
  const db = services().cassandra;
  const partition = key[0]!;
  const rows = (await db.execute(`SELECT ${key.join(", ")}, WRITETIME(${valueColumn}) AS ts FROM ${table} WHERE ${partition} = ?`, [id])).rows;
  for (const row of rows) {
    const where = key.map((c) => `${c} = ?`).join(" AND ");
    await db.execute(`DELETE FROM ${table} USING TIMESTAMP ? WHERE ${where}`, [row.ts, ...key.map((c) => row[c])]);
  }
}

describe("snapshot rows", () => {
  test("an incremental snapshot rebuilds feeds whose derived state was lost", async () => {
    const [author, reader] = [await signUp(services(), "snap"), await signUp(services(), "snap")];
    await reader.as.follows.follow({ userId: author.user.id });
    const post = await author.as.posts.create({ body: "survives a lost store" });
    await reader.as.likes.like({ postId: post.id });
    const ids = [author.user.id, reader.user.id];
    await expectConverged(services(), ids);

    for (const id of ids) {
      await wipe("users", ["user_id"], "handle", id);
      await wipe("followers", ["user_id", "follower_id"], "since", id);
      await wipe("following", ["follower_id", "followee_id"], "since", id);
      await wipe("activities_by_actor", ["actor_id", "created_at", "activity_id"], "item", id);
      await wipe("home_feed", ["user_id", "created_at", "activity_id"], "item", id);
      await services().redis.del(...services().feedCache.keys(id));
    }
    for (const id of ids) expect(await feedIds(services(), id)).toEqual([]);

    await requestSnapshot(createStackContext(services().config));
    await expectConverged(services(), ids, 120_000);
    expect(await feedIds(services(), reader.user.id)).toEqual(
      expect.arrayContaining([`shard:${post.id}`, `like:${reader.user.id}:${post.id}`, `follow:${reader.user.id}:${author.user.id}`]),
    );
  });
});
