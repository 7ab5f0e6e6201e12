import { loadConfig } from "../../src/config";
import { createCassandra } from "../../src/store/cassandra";

/** `npm run cql -- "<query>"`: one CQL statement against the configured keyspace (cassandra-all ships no cqlsh). */
const query = process.argv.slice(2).join(" ").trim();
if (!query) {
  console.error('usage: npm run cql -- "SELECT * FROM home_feed LIMIT 10"');
  process.exit(2);
}
const client = createCassandra(loadConfig().cassandra);
try {
  const result = await client.execute(query, [], { prepare: false });
  if (result.rows?.length) console.table(result.rows.map((r) => Object.fromEntries(result.columns.map((c) => [c.name, r[c.name]]))));
  else console.log(result.rows ? "(no rows)" : "ok");
} catch (err) {
  console.error(`error: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await client.shutdown();
}
