import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { probes } from "../../../src/health";
import { createCassandra } from "../../../src/clients/cassandra";
import type { StackContext } from "../context";
import { StackError } from "../errors";
import { type Component, daemon, jvmBase, withClient } from "./component";

/** The JPMS flags of Cassandra's own conf/jvm17-server.options: without them it cannot start on JDK 17. */
const jdk17Flags = [
  "-Djdk.attach.allowAttachSelf=true",
  ...[
    "java.base/jdk.internal.misc", "java.management.rmi/com.sun.jmx.remote.internal.rmi", "java.rmi/sun.rmi.registry",
    "java.rmi/sun.rmi.server", "java.sql/java.sql", "java.base/java.lang.ref", "jdk.unsupported/sun.misc",
    "jdk.compiler/com.sun.tools.javac.file", "jdk.attach/sun.tools.attach",
  ].flatMap((p) => ["--add-exports", `${p}=ALL-UNNAMED`]),
  ...[
    "java.base/java.lang.module", "java.base/jdk.internal.loader", "java.base/jdk.internal.ref",
    "java.base/jdk.internal.reflect", "java.base/jdk.internal.math", "java.base/jdk.internal.module",
    "java.base/jdk.internal.util.jar", "jdk.management/com.sun.management.internal", "java.base/sun.nio.ch",
    "java.base/java.io", "java.base/java.lang.reflect", "jdk.compiler/com.sun.tools.javac", "java.base/java.lang",
    "java.base/java.util",
  ].flatMap((p) => ["--add-opens", `${p}=ALL-UNNAMED`]),
  "-Dio.netty.tryReflectionSetAccessible=true",
];

/** A single Cassandra 5.0 node run from the cassandra-all jars, as Cassandra's own launcher would. */
export function cassandraComponent(ctx: StackContext): Component {
  const cfg = ctx.config.cassandra;
  const { storagePort, jmxPort } = ctx.settings.cassandra;
  const d = daemon(ctx, "cassandra");
  const yaml = ctx.conf("cassandra", "cassandra.yaml");
  const logback = ctx.conf("cassandra", "logback.xml");
  const data = ctx.data("cassandra");
  const probe = () =>
    withClient(
      () => createCassandra(cfg, { keyspace: false }),
      (c) => c.shutdown(),
      async (c) => {
        await c.connect();
        await probes.cassandra(c);
      },
    );

  function writeConfig() {
    mkdirSync(ctx.conf("cassandra"), { recursive: true });
    writeFileSync(
      yaml,
      [
        "cluster_name: feedline",
        "num_tokens: 1",
        "partitioner: org.apache.cassandra.dht.Murmur3Partitioner",
        `data_file_directories: [${data}/data]`,
        `commitlog_directory: ${data}/commitlog`,
        `saved_caches_directory: ${data}/saved_caches`,
        `hints_directory: ${data}/hints`,
        `cdc_raw_directory: ${data}/cdc_raw`,
        // A write is acknowledged only once its commit log section is synced. With the default
        // (periodic, every 10 s) a SIGKILLed node replays its commit log only up to the last sync
        // marker, so acknowledged writes were lost, and the stream had already committed the
        // offsets past them (the chaos suite found it). A cluster with RF 3 and LOCAL_QUORUM
        // writes may keep periodic: a write survives on the other replicas. One node cannot.
        // Batch mode syncs as soon as writes are pending; concurrent writes share each sync.
        "commitlog_sync: batch",
        // Fan-out sends unlogged batches of rows that share a replica (src/feeds/store.ts); the
        // defaults (warn at 5 KiB and at 10 partitions) would log a warning for every one.
        "batch_size_warn_threshold: 64KiB",
        "batch_size_fail_threshold: 640KiB",
        "unlogged_batch_across_partitions_warn_threshold: 256",
        // Cassandra 5's trie memtable, off heap: fewer, larger flushes and less GC under fan-out
        // (a profile of the feed build had a third of the node's CPU in flushing and compaction).
        "memtable:",
        "  configurations:",
        "    skiplist:",
        "      class_name: SkipListMemtable",
        "    trie:",
        "      class_name: TrieMemtable",
        "    default:",
        "      inherits: trie",
        "memtable_allocation_type: offheap_objects",
        // Everything here is derived state, rebuilt from the change topics; TRUNCATE (bench:build)
        // should free the disk rather than keep a snapshot of it.
        "auto_snapshot: false",
        "seed_provider:",
        "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider",
        "    parameters:",
        `      - seeds: "127.0.0.1:${storagePort}"`,
        "listen_address: 127.0.0.1",
        "rpc_address: 127.0.0.1",
        `storage_port: ${storagePort}`,
        `native_transport_port: ${cfg.port}`,
        "start_native_transport: true",
        "endpoint_snitch: SimpleSnitch",
        "",
      ].join("\n"),
    );
    writeFileSync(
      logback,
      `<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
`,
    );
  }

  function jammJar() {
    const jar = readdirSync(ctx.jars("cassandra")).find((f) => /^jamm-.*\.jar$/.test(f));
    if (!jar) throw new StackError(`jamm jar missing from ${ctx.jars("cassandra")}: run \`npm run stack -- reset\` and up again`);
    return ctx.jars("cassandra", jar);
  }

  return {
    name: "cassandra",
    ports: [
      { port: cfg.port, variable: "FEEDLINE_CASSANDRA_PORT" },
      { port: storagePort, variable: "FEEDLINE_CASSANDRA_STORAGE_PORT" },
      { port: jmxPort, variable: "FEEDLINE_CASSANDRA_JMX_PORT" },
    ],
    pid: d.pid,
    probe,
    log: d.log,
    readyTimeoutMs: 240_000,
    stop: d.stop,
    async start() {
      writeConfig();
      mkdirSync(data, { recursive: true });
      mkdirSync(ctx.run("cassandra-tmp"), { recursive: true });
      await d.start(ctx.java, [
        ...jvmBase(ctx, ctx.settings.cassandra.heap),
        "-Xss256k",
        ...jdk17Flags,
        `-javaagent:${jammJar()}`,
        `-Dcassandra.config=file://${yaml}`,
        `-Dcassandra.storagedir=${data}`,
        `-Dcassandra.logdir=${ctx.root}/logs`,
        `-Dlogback.configurationFile=${logback}`,
        "-Dcassandra-foreground=yes",
        `-Dcassandra.jmx.local.port=${jmxPort}`,
        // Single node: no need to wait for gossip to settle or to pick tokens (start-up ~1 min → ~15 s).
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-Dcassandra.initial_token=0",
        `-Djava.io.tmpdir=${ctx.run("cassandra-tmp")}`,
        "-cp", `${ctx.jars("cassandra")}/*`,
        "org.apache.cassandra.service.CassandraDaemon",
      ], probe, 240_000);
    },
  };
}
