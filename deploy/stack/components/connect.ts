import { mkdirSync, writeFileSync } from "node:fs";
import { probes } from "../../../src/health";
import type { StackContext } from "../context";
import { type Component, daemon, jvmBase } from "./component";
import { writeLog4j } from "./kafka";

/** Kafka Connect in distributed mode (source offsets in a Kafka topic, as in production) with Debezium on its plugin path. */
export function connectComponent(ctx: StackContext): Component {
  const cfg = ctx.config.connect;
  const d = daemon(ctx, "connect");
  const props = ctx.conf("connect", "worker.properties");
  const log4j = ctx.conf("connect", "log4j.properties");
  const probe = () => probes.connect(cfg.url);

  function writeConfig() {
    mkdirSync(ctx.conf("connect"), { recursive: true });
    const { group, topics } = ctx.settings.connect;
    writeFileSync(
      props,
      [
        `bootstrap.servers=${ctx.config.kafka.brokers.join(",")}`,
        `group.id=${group}`,
        `listeners=http://${cfg.host}:${cfg.port}`,
        `rest.advertised.host.name=${cfg.host}`,
        `rest.advertised.port=${cfg.port}`,
        // Debezium, and the Apicurio Avro converter that the connector's config names.
        `plugin.path=${ctx.jars("connect-plugins")},${ctx.jars("converter-plugins")}`,
        // The worker's defaults, for connectors that name no converter of their own: ours does (Avro).
        "key.converter=org.apache.kafka.connect.json.JsonConverter",
        "value.converter=org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable=false",
        "value.converter.schemas.enable=false",
        // Connect creates its own three compacted topics.
        `config.storage.topic=${topics.configs}`,
        `offset.storage.topic=${topics.offsets}`,
        `status.storage.topic=${topics.status}`,
        `config.storage.replication.factor=${ctx.config.kafka.replicationFactor}`,
        `offset.storage.replication.factor=${ctx.config.kafka.replicationFactor}`,
        `status.storage.replication.factor=${ctx.config.kafka.replicationFactor}`,
        // One worker: when it loses the broker it revokes its own tasks and, on rejoining, comes
        // back as a new member; the default 5-minute delay would then hold the "lost" task
        // UNASSIGNED, waiting for a member that will never return. With several workers, set
        // this to about how long a worker takes to restart (docs/operations.md).
        "scheduled.rebalance.max.delay.ms=0",
        // Commit source offsets every second: less to re-send after a crash.
        "offset.flush.interval.ms=1000",
        // Send change events almost at once rather than waiting to fill batches.
        "producer.linger.ms=5",
        // Lets the connector config read ${env:FEEDLINE_PG_PASSWORD} etc., so one JSON file serves local and compose.
        "config.providers=env",
        "config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        "",
      ].join("\n"),
    );
    writeLog4j(log4j);
  }

  return {
    name: "connect",
    ports: [{ port: cfg.port, variable: "FEEDLINE_CONNECT_PORT" }],
    pid: d.pid,
    probe,
    log: d.log,
    readyTimeoutMs: 180_000,
    stop: d.stop,
    async start() {
      writeConfig();
      await d.start(
        ctx.java,
        [
          ...jvmBase(ctx, ctx.settings.connect.heap),
          `-Dlog4j.configuration=file:${log4j}`,
          "-cp", `${ctx.jars("kafka")}/*`,
          "org.apache.kafka.connect.cli.ConnectDistributed", props,
        ],
        probe,
        180_000,
        ctx.childEnv(),
      );
    },
  };
}
