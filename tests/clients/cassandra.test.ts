import { expect, test } from "bun:test";
import { createCassandra } from "../../src/clients/cassandra";
import { loadConfig } from "../../src/config";

test("the Cassandra client prepares every statement and writes at LOCAL_QUORUM unless a call says otherwise", async () => {
  const client = createCassandra(loadConfig({}).cassandra); // constructing a client does not connect
  // The driver keeps the merged options on the client, untyped.
  const { queryOptions } = (client as unknown as { options: { queryOptions: { prepare: boolean; consistency: number } } }).options;
  expect(queryOptions.prepare).toBe(true);
  expect(queryOptions.consistency).toBe(6); // types.consistencies.localQuorum
  await client.shutdown();
});
