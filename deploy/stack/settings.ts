import { z } from "zod";
import { parseEnv, port } from "../../src/config";

/**
 * The stack tool's own settings: where it keeps its state, which JDK and heaps it runs, and the
 * ports only its processes use. The service never reads these; its addresses (host and client
 * ports) come from src/config.ts, which the stack tool reads too. Same rules as there: every
 * variable has a default, and a bad value stops the tool with a ConfigError naming the variable.
 */

const heap = z.string().regex(/^\d+[mg]$/);

const variables = {
  FEEDLINE_STACK_DIR: z.string().min(1).default(".stack"),
  FEEDLINE_JAVA_HOME: z.string().optional(),
  FEEDLINE_KAFKA_HEAP: heap.default("512m"),
  FEEDLINE_CONNECT_HEAP: heap.default("512m"),
  FEEDLINE_CONNECT_GROUP: z.string().regex(/^[a-z][a-z0-9_-]*$/).default("feedline-connect"),
  FEEDLINE_CASSANDRA_HEAP: heap.default("1g"),
  FEEDLINE_REGISTRY_HEAP: heap.default("384m"),
  FEEDLINE_REGISTRY_JAVA_HOME: z.string().optional(),
  FEEDLINE_REGISTRY_MANAGEMENT_PORT: port.default(28091),
  FEEDLINE_REGISTRY_DATABASE: z.string().regex(/^[a-z][a-z0-9_]*$/).default("feedline_registry"),
  FEEDLINE_KAFKA_CONTROLLER_PORT: port.default(29093),
  FEEDLINE_CASSANDRA_STORAGE_PORT: port.default(27000),
  FEEDLINE_CASSANDRA_JMX_PORT: port.default(27199),
} as const;

/** Parses the stack tool's variables; throws ConfigError naming the first bad one. */
export function loadStackSettings(env: Record<string, string | undefined> = process.env) {
  const e = parseEnv(variables, env);
  return {
    dir: e.FEEDLINE_STACK_DIR,
    javaHome: e.FEEDLINE_JAVA_HOME,
    kafka: { heap: e.FEEDLINE_KAFKA_HEAP, controllerPort: e.FEEDLINE_KAFKA_CONTROLLER_PORT },
    /**
     * The Connect worker's group and its three compacted topics: the worker's own, fixed whatever
     * pipelines (topic prefixes) its connectors serve, as in docker-compose.yml.
     */
    connect: {
      heap: e.FEEDLINE_CONNECT_HEAP,
      group: e.FEEDLINE_CONNECT_GROUP,
      topics: { configs: `${e.FEEDLINE_CONNECT_GROUP}-configs`, offsets: `${e.FEEDLINE_CONNECT_GROUP}-offsets`, status: `${e.FEEDLINE_CONNECT_GROUP}-status` },
    },
    /** Apicurio Registry: its JVM (Java 21 or later), its health port, and its own database in the stack's PostgreSQL. */
    registry: { heap: e.FEEDLINE_REGISTRY_HEAP, javaHome: e.FEEDLINE_REGISTRY_JAVA_HOME, managementPort: e.FEEDLINE_REGISTRY_MANAGEMENT_PORT, database: e.FEEDLINE_REGISTRY_DATABASE },
    cassandra: { heap: e.FEEDLINE_CASSANDRA_HEAP, storagePort: e.FEEDLINE_CASSANDRA_STORAGE_PORT, jmxPort: e.FEEDLINE_CASSANDRA_JMX_PORT },
  };
}

export type StackSettings = ReturnType<typeof loadStackSettings>;
