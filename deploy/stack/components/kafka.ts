import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { probes } from "../../../src/health";
import { createKafka } from "../../../src/clients/kafka";
import type { StackContext } from "../context";
import { note } from "../progress";
import { run } from "../proc";
import { type Component, daemon, jvmBase, withClient } from "./component";

/** log4j 1 (reload4j) settings shared by the broker and Connect: INFO to stdout, which goes to the log file. */
export function writeLog4j(path: string) {
  writeFileSync(
    path,
    [
      "log4j.rootLogger=INFO, stdout",
      "log4j.appender.stdout=org.apache.log4j.ConsoleAppender",
      "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout",
      "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n",
      "log4j.logger.org.apache.kafka.clients=WARN",
      "log4j.logger.kafka.request.logger=WARN",
      "log4j.logger.org.reflections=ERROR",
      "",
    ].join("\n"),
  );
}

/** A single-node Kafka in KRaft mode (broker and controller in one process). */
export function kafkaComponent(ctx: StackContext): Component {
  const cfg = ctx.config.kafka;
  const { controllerPort } = ctx.settings.kafka;
  const d = daemon(ctx, "kafka");
  const classpath = `${ctx.jars("kafka")}/*`;
  const props = ctx.conf("kafka", "server.properties");
  const log4j = ctx.conf("kafka", "log4j.properties");
  const logDir = ctx.data("kafka");
  const probe = () =>
    withClient(
      () => createKafka(cfg, "feedline-stack", { quiet: true }).admin(),
      (admin) => admin.disconnect(),
      (admin) => probes.kafka(admin),
    );

  function writeConfig() {
    mkdirSync(ctx.conf("kafka"), { recursive: true });
    const listener = `${cfg.host}:${cfg.port}`;
    writeFileSync(
      props,
      [
        "process.roles=broker,controller",
        "node.id=1",
        `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
        `listeners=PLAINTEXT://${listener},CONTROLLER://127.0.0.1:${controllerPort}`,
        `advertised.listeners=PLAINTEXT://${listener}`,
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        `log.dirs=${logDir}`,
        // Topics are created explicitly by `stack up` with the settings the design needs.
        "auto.create.topics.enable=false",
        `num.partitions=${cfg.partitions}`,
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=6",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "log.cleaner.dedupe.buffer.size=33554432",
        "",
      ].join("\n"),
    );
    writeLog4j(log4j);
  }

  const java = (mainClass: string, args: string[], heap = "128m") =>
    run(ctx.java, [...jvmBase(ctx, heap), `-Dlog4j.configuration=file:${log4j}`, "-cp", classpath, mainClass, ...args]);

  return {
    name: "kafka",
    ports: [
      { port: cfg.port, variable: "FEEDLINE_KAFKA_PORT" },
      { port: controllerPort, variable: "FEEDLINE_KAFKA_CONTROLLER_PORT" },
    ],
    pid: d.pid,
    probe,
    log: d.log,
    readyTimeoutMs: 120_000,
    stop: d.stop,
    async start() {
      writeConfig();
      if (!existsSync(`${logDir}/meta.properties`)) {
        const clusterId = java("kafka.tools.StorageTool", ["random-uuid"]).trim().split("\n").at(-1)!;
        note(`formatting KRaft storage (cluster ${clusterId})`);
        java("kafka.tools.StorageTool", ["format", "-t", clusterId, "-c", props, "--ignore-formatted"]);
      }
      await d.start(ctx.java, [
        ...jvmBase(ctx, ctx.settings.kafka.heap),
        `-Dlog4j.configuration=file:${log4j}`,
        `-Dkafka.logs.dir=${ctx.root}/logs`,
        "-cp", classpath,
        "kafka.Kafka", props,
      ], probe, 120_000);
    },
  };
}
