import { loadConfig } from "../../src/config";
import { createCassandra } from "../../src/clients/cassandra";

/** `npm run cql -- "<query>"`: one CQL statement against the configured keyspace (cassandra-all ships no cqlsh). */
const query = process.argv.slice(2).join(" ").trim();
if (!query) {
  console.error('usage: npm run cql -- "SELECT * FROM home_feed LIMIT 10"');
  process.exit(2);
}
const client = createCassandra(loadConfig().cassandra);
try {
  const result = await client.execute(query, [], { prepare: false });
  // Longs, UUIDs and the like print as their text.
  const show = (v: unknown) => (v !== null && typeof v === "object" && !(v instanceof Date) ? String(v) : v);
  if (result.rows?.length) console.table(result.rows.map((r) => Object.fromEntries(result.columns.map((c) => [c.name, show(r[c.name])]))));
  else console.log(result.rows ? "(no rows)" : "ok");
} catch (err) {
  console.error(`error: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await client.shutdown();
}
