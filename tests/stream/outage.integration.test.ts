import { beforeAll, describe, expect, test } from "bun:test";
import { createStackContext } from "../../deploy/stack/context";
import { createStack } from "../../deploy/stack/stack";
import { signUp } from "../support/api";
import { expectConverged, sharedWorker } from "../support/pipeline";
import { eventually, useServices } from "../support/stack";

// A store that goes away mid-stream: the worker retries with back-off, commits nothing past the
// failed write, and catches up once the store is back.

const services = useServices();
beforeAll(async () => {
  await sharedWorker();
});

const metric = async (port: number, name: string) =>
  (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);

describe("store outages", () => {
  test("with Redis down the worker retries without committing, and converges once Redis is back", async () => {
    const redis = createStack(createStackContext(services().config)).components.find((c) => c.name === "redis")!;
    if (redis.pid() === undefined) {
      console.warn("skipped: this Redis was not started by the stack tool, so the test cannot stop it");
      return;
    }
    const worker = await sharedWorker();
    const author = await signUp(services(), "outage");
    await expectConverged(services(), [author.user.id]);
    const retriesBefore = await metric(worker.adminPort, "feedline_store_retries_total");

    await redis.stop();
    try {
      await author.as.posts.create({ body: "written while the cache is down" });
      await eventually("the worker to retry", async () => ((await metric(worker.adminPort, "feedline_store_retries_total")) > retriesBefore ? true : undefined), 30_000);
      const lag = await metric(worker.adminPort, `feedline_consumer_lag{group="${services().config.stream.feedsGroup}"`);
      expect(lag).toBeGreaterThan(0);
    } finally {
      await redis.start();
    }
    await expectConverged(services(), [author.user.id], 60_000);
    // The feed is written before the batch's offset is committed: the lag follows a moment later.
    await eventually("the lag to return to 0", async () => ((await metric(worker.adminPort, `feedline_consumer_lag{group="${services().config.stream.feedsGroup}"`)) === 0 ? true : undefined), 30_000);
  });
});
