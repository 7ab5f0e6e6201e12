import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StackContext } from "./context";
import { StackError } from "./errors";
import { note, step } from "./progress";
import { run } from "./proc";

export const pgBin = "/usr/lib/postgresql/15/bin";

/** What the local stack needs from Debian: the file that proves it is there, and the package that provides it. */
const debianNeeds = [
  { what: "PostgreSQL 15 server", file: `${pgBin}/pg_ctl`, pkg: "postgresql-15" },
  { what: "psql", file: "/usr/bin/psql", pkg: "postgresql-client-15" },
  { what: "Redis server", file: "/usr/bin/redis-server", pkg: "redis-server" },
  { what: "JDK 17", file: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", pkg: "openjdk-17-jdk-headless" },
  { what: "Maven", file: "/usr/bin/mvn", pkg: "maven" },
  { what: "kcat (for inspecting topics)", file: "/usr/bin/kcat", pkg: "kcat" },
  { what: "wrk (for npm run bench:compare)", file: "/usr/bin/wrk", pkg: "wrk" },
];

/** Installs missing Debian packages when running as root with apt-get; otherwise says exactly what is missing. */
export async function ensurePackages(ctx: StackContext) {
  const missing = debianNeeds.filter((n) => !existsSync(n.file) && !(n.pkg.startsWith("openjdk") && ctx.java !== "java"));
  if (missing.length === 0) return;
  const pkgs = missing.map((m) => m.pkg);
  const canInstall = process.getuid?.() === 0 && existsSync("/usr/bin/apt-get");
  if (!canInstall) {
    throw new StackError(
      `missing: ${missing.map((m) => `${m.what} (${m.file})`).join(", ")}.\n` +
        `Install them with: sudo apt-get install -y ${pkgs.join(" ")}`,
    );
  }
  await step(`installing Debian packages: ${pkgs.join(" ")}`, async () => {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    run("apt-get", ["update", "-q"], { env });
    run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...pkgs], { env });
  });
}

/** The jar sets, each fetched from Maven Central by a pinned pom under deploy/jars. */
const jarSets = [
  { name: "kafka", goals: [["copy-dependencies", "kafka"], ["unpack", "connect-plugins"]] },
  { name: "cassandra", goals: [["copy-dependencies", "cassandra"]] },
  { name: "registry", goals: [["unpack", "registry"]] },
  { name: "converter", goals: [["copy-dependencies", "converter-plugins/apicurio-converter"]] },
] as const;

const dependencyPlugin = "org.apache.maven.plugins:maven-dependency-plugin:3.10.0";

/** Fetches each jar set once per pom version; Maven's ~/.m2 cache makes later fetches local copies. */
export async function ensureJars(ctx: StackContext) {
  for (const set of jarSets) {
    const pom = ctx.deploy("jars", set.name, "pom.xml");
    const digest = createHash("sha256").update(readFileSync(pom)).digest("hex");
    const marker = ctx.jars(`${set.name}.sha256`);
    if (existsSync(marker) && readFileSync(marker, "utf8") === digest) continue;
    await step(`fetching ${set.name} jars from Maven Central (cached in ~/.m2 after the first time)`, async () => {
      for (const [goal, dir] of set.goals) {
        const target = ctx.jars(dir);
        const staging = `${target}.partial`;
        rmSync(staging, { recursive: true, force: true });
        rmSync(ctx.jars(".build"), { recursive: true, force: true });
        await mvn([
          "-B", "-f", pom, `${dependencyPlugin}:${goal}`,
          "-DincludeScope=runtime", `-DoutputDirectory=${staging}`, `-Dstack.build=${ctx.jars(".build")}`,
        ]);
        rmSync(target, { recursive: true, force: true });
        renameSync(staging, target);
        note(`${dir}: ${(dirSize(target) / 1e6).toFixed(1)} MB`);
      }
      writeFileSync(marker, digest);
    });
  }
}

/** Runs Maven, showing a running count of artifacts downloaded, and its output when it fails. */
function mvn(args: string[]) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn("mvn", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let downloads = 0;
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      const count = text.match(/^Downloaded from/gm)?.length ?? 0;
      if (count > 0 && Math.floor((downloads + count) / 25) > Math.floor(downloads / 25)) {
        note(`${downloads + count} artifacts downloaded…`);
      }
      downloads += count;
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (err) => reject(new StackError(`mvn could not run: ${err.message}`)));
    child.on("close", (code) => {
      if (code === 0) return resolve();
      const tail = output.trimEnd().split("\n").slice(-25).join("\n");
      reject(new StackError(`mvn ${args.join(" ")} failed (${code}):\n${tail}`));
    });
  });
}

function dirSize(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, entry) => sum + dirSize(join(path, entry)), 0);
}

/** Checks the Java binary is a release Cassandra 5.0 supports (11 or 17), and that the registry has its own (21+). */
export function ensureJava(ctx: StackContext) {
  const version = javaMajor(ctx.java);
  if (version === undefined) throw new StackError(`no Java found (${ctx.java}); install openjdk-17-jdk-headless or set FEEDLINE_JAVA_HOME`);
  if (version !== 11 && version !== 17) {
    throw new StackError(`${ctx.java} is Java ${version}; Cassandra 5.0 needs 11 or 17. Set FEEDLINE_JAVA_HOME to a JDK 17.`);
  }
  registryJava(ctx); // said now rather than after the downloads
  mkdirSync(ctx.jars(), { recursive: true });
}

/**
 * The Java that runs the schema registry: Apicurio Registry 3.3 needs 21 or later, which the
 * Cassandra JDK is not. FEEDLINE_REGISTRY_JAVA_HOME, else the newest JDK 21+ under /usr/lib/jvm.
 */
export function registryJava(ctx: StackContext) {
  const explicit = ctx.settings.registry.javaHome;
  const homes = explicit ? [explicit] : existsSync("/usr/lib/jvm") ? readdirSync("/usr/lib/jvm").map((d) => join("/usr/lib/jvm", d)) : [];
  const found = homes
    .map((home) => ({ java: join(home, "bin", "java"), version: javaMajor(join(home, "bin", "java")) }))
    .filter((j) => j.version !== undefined && j.version >= 21)
    .sort((a, b) => b.version! - a.version!)[0];
  if (found) return found.java;
  throw new StackError(
    explicit
      ? `FEEDLINE_REGISTRY_JAVA_HOME (${explicit}) is not a JDK 21 or later; Apicurio Registry 3.3 needs one`
      : "Apicurio Registry 3.3 needs Java 21 or later and none is under /usr/lib/jvm: install one (openjdk-21-jdk-headless, or Temurin 21+) or set FEEDLINE_REGISTRY_JAVA_HOME",
  );
}

/** A Java binary's major version (a path, or a name on the PATH), or undefined when it does not run. */
function javaMajor(java: string) {
  const res = spawnSync(java, ["-version"], { encoding: "utf8" });
  const v = /version "(\d+)/.exec(res.stderr ?? "")?.[1];
  return v ? Number(v) : undefined;
}
