import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../../src/config";
import { withStackSecret } from "./secret";
import { loadStackSettings, type StackSettings } from "./settings";

/**
 * The service's config and the stack tool's own settings, paths of the state directory and of
 * the repo's deploy files, and the Java binary to run.
 */
export function createStackContext(config: Config, settings: StackSettings = loadStackSettings()) {
  const repo = resolve(import.meta.dir, "../..");
  const root = resolve(repo, settings.dir);
  return {
    config,
    settings,
    repo,
    root,
    deploy: (...parts: string[]) => join(repo, "deploy", ...parts),
    log: (name: string) => join(root, "logs", `${name}.log`),
    pidFile: (name: string) => join(root, "run", `${name}.pid`),
    run: (...parts: string[]) => join(root, "run", ...parts),
    data: (...parts: string[]) => join(root, "data", ...parts),
    conf: (...parts: string[]) => join(root, "conf", ...parts),
    jars: (...parts: string[]) => join(root, "jars", ...parts),
    java: javaBinary(settings.javaHome),
    /**
     * Environment for child processes: the parsed config, so Connect's env config provider sees
     * it too, and the stack's token secret (secret.ts) unless the environment sets one.
     */
    childEnv: (): NodeJS.ProcessEnv => ({
      ...withStackSecret(process.env),
      FEEDLINE_PG_HOST: config.postgres.host,
      FEEDLINE_PG_PORT: String(config.postgres.port),
      FEEDLINE_PG_USER: config.postgres.user,
      FEEDLINE_PG_PASSWORD: config.postgres.password,
      FEEDLINE_PG_DATABASE: config.postgres.database,
      FEEDLINE_TOPIC_PREFIX: config.kafka.topicPrefix,
    }),
  };
}

export type StackContext = ReturnType<typeof createStackContext>;

/** Cassandra 5.0 runs on JDK 11 or 17, not 21+: prefer an explicit home, then Debian's JDK 17. */
function javaBinary(javaHome: string | undefined) {
  const candidates = [javaHome, "/usr/lib/jvm/java-17-openjdk-amd64", "/usr/lib/jvm/java-17-openjdk-arm64"];
  for (const home of candidates) {
    if (home && existsSync(join(home, "bin", "java"))) return join(home, "bin", "java");
  }
  return "java";
}
