import { beforeAll, describe, expect, test } from "bun:test";
import { createStackContext } from "../../deploy/stack/context";
import { requestSnapshot } from "../../deploy/stack/schema";
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

describe("snapshot rows", () => {
  test("an incremental snapshot rebuilds feeds whose derived state was lost", async () => {
    const [author, reader] = [await signUp(services(), "snap"), await signUp(services(), "snap")];
    await reader.as.follows.follow({ userId: author.user.id });
    const post = await author.as.posts.create({ body: "survives a lost store" });
    await reader.as.likes.like({ postId: post.id });
    const ids = [author.user.id, reader.user.id];
    await expectConverged(services(), ids);

    const db = services().cassandra;
    for (const id of ids) {
      for (const [table, column] of [["users", "user_id"], ["followers", "user_id"], ["activities_by_actor", "actor_id"], ["home_feed", "user_id"]]) {
        await db.execute(`DELETE FROM ${table} WHERE ${column} = ?`, [id], { prepare: true });
      }
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
