/**
 * What one post costs the whole stack, in CPU: `npm run bench:cost -- [--posts 3000] [--concurrency 8] [--followers 20]`.
 * Posts through the API by an author with no followers, then by one with `--followers`, each run
 * until the pipeline has applied everything, and reads every process's CPU time from /proc
 * before and after: the service (API and workers, as `serve` runs them), PostgreSQL with its
 * backends, Kafka Connect, Kafka, Cassandra, Redis. Also measures each process idle first, so
 * that background work (compaction, polling loops) is visible, and gives the cost per extra
 * follower a post is fanned out to. Appends the table to docs/benchmarks.md.
 *
 * `--profile <dir>`: runs the service as two processes (API and workers) under Bun's CPU profiler
 * and records the JVMs with Java Flight Recorder during the 0-follower run (bench/profile.ts);
 * the profiles and their summaries are written to `<dir>`, and nothing is appended.
 */
import { parseArgs } from "node:util";
import { apiClient, cpuSeconds, openBench, stackPids, startService, waitForPipeline } from "./pipeline";
import { markdownTable, record, statusLine } from "./support";
import { bunProfileArgs, bunProfiles, head, startRecordings } from "./profile";

const { values } = parseArgs({
  options: { posts: { type: "string", default: "3000" }, concurrency: { type: "string", default: "8" }, followers: { type: "string", default: "20" }, idle: { type: "string", default: "10" }, profile: { type: "string" } },
});
const posts = Number(values.posts);
const concurrency = Number(values.concurrency);
const followerCount = Number(values.followers);
const idleSeconds = Number(values.idle);

const { services, admin } = await openBench();
const profileDir = values.profile;
// Profiled, the workers run in their own process: Bun's profiler sees only the main thread.
const service = await startService(profileDir ? { role: "api", runtimeArgs: bunProfileArgs(profileDir, "api") } : { role: "all" });
const workers = profileDir ? await startService({ role: "worker", runtimeArgs: bunProfileArgs(profileDir, "worker") }) : undefined;
const servicePids = { api: service.pid, worker: workers?.pid };
const stack = stackPids();
// Profiled, the API and the workers are also shown apart.
const processes = ["service", "postgres", "registry", "connect", "kafka", "cassandra", "redis"];
const names = [...(profileDir ? ["api", "worker"] : []), ...processes];
const client = (token?: string) => apiClient(service.url, token);
const suffix = Math.random().toString(36).slice(2, 8);
const signUp = (name: string) => client().users.create.mutate({ handle: `cost_${name}_${suffix}` });

const marker = await signUp("marker");
const [quiet, popular] = [await signUp("quiet"), await signUp("popular")];
const followers = [];
for (let i = 0; i < followerCount; i++) followers.push(await signUp(`f${i}`));
for (const f of followers) await client(f.token).follows.follow.mutate({ userId: popular.user.id });

/** Posts `n` times as `author`, `concurrency` in flight, then waits until the pipeline has applied them all. */
async function postAll(author: { token: string }, n: number, label: string) {
  const as = client(author.token);
  let next = 0;
  const line = statusLine();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        await as.posts.create.mutate({ body: `cost post ${i}` });
        if (i % 500 === 0) line.update(`${label}: ${i}/${n} posts`);
      }
    }),
  );
  line.done();
  await waitForPipeline(services, admin, marker.user.id, { label: `${label}: waiting for the pipeline` });
}

/** CPU seconds per process while `work` runs, and how long it took. */
async function measure(work: () => Promise<void>) {
  const cpu = () => {
    const all = cpuSeconds({ ...stack, ...servicePids });
    return { ...all, service: (all.api ?? 0) + (all.worker ?? 0) } as Record<string, number>;
  };
  const before = cpu();
  const started = performance.now();
  await work();
  const after = cpu();
  return { seconds: (performance.now() - started) / 1000, cpu: Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)])) };
}

// Warm-up (JIT, prepared statements, connections), and everything before it applied.
await postAll(quiet, 300, "warm-up");
await postAll(popular, 100, "warm-up");

console.log(`idle: ${idleSeconds} s with nothing to do`);
const idle = await measure(() => Bun.sleep(idleSeconds * 1000));
console.log(`${posts} posts by an author with no followers`);
const recordings = profileDir ? startRecordings(profileDir, { kafka: stack.kafka, connect: stack.connect, cassandra: stack.cassandra }) : undefined;
const zero = await measure(() => postAll(quiet, posts, "0 followers"));
const summaries = recordings?.stop() ?? [];
console.log(`${posts} posts by an author with ${followerCount} followers`);
const many = await measure(() => postAll(popular, posts, `${followerCount} followers`));

const ms = (cpu: number) => ((cpu * 1000) / posts).toFixed(2);
const rows: Record<string, string>[] = names.map((name) => ({
  process: name,
  "idle, % of a core": `${((100 * (idle.cpu[name] ?? 0)) / idle.seconds).toFixed(1)}%`,
  "CPU-ms per post, 0 followers": ms(zero.cpu[name] ?? 0),
  [`CPU-ms per post, ${followerCount} followers`]: ms(many.cpu[name] ?? 0),
  "CPU-µs per extra follower": (((many.cpu[name] ?? 0) - (zero.cpu[name] ?? 0)) * 1e6 / posts / followerCount).toFixed(0),
}));
const total = (run: typeof zero) => processes.reduce((sum, n) => sum + (run.cpu[n] ?? 0), 0);
const idleTotal = processes.reduce((sum, n) => sum + (idle.cpu[n] ?? 0), 0);
rows.push({
  process: "**total**",
  "idle, % of a core": `${((100 * idleTotal) / idle.seconds).toFixed(1)}%`,
  "CPU-ms per post, 0 followers": ms(total(zero)),
  [`CPU-ms per post, ${followerCount} followers`]: ms(total(many)),
  "CPU-µs per extra follower": (((total(many) - total(zero)) * 1e6) / posts / followerCount).toFixed(0),
});
const idleShare = (run: typeof zero) => ((idleTotal / idle.seconds) * run.seconds * 1000) / posts;
const table = markdownTable(rows);
console.log(`\n${table}`);
if (profileDir) {
  await workers!.stop();
  await service.stop();
  for (const file of [...summaries, ...bunProfiles(profileDir)]) console.log(`\n${file}:\n${head(file, 40)}`);
  console.log(`\nprofiles in ${profileDir}; nothing appended (a profiled run is slower)`);
  process.exit(0);
}
record(
  "Cost per post (CPU, whole stack)",
  `npm run bench:cost -- --posts ${posts} --concurrency ${concurrency} --followers ${followerCount}`,
  table,
  `Each run: ${posts} posts.create over HTTP, ${concurrency} in flight, then until the workers have applied them all (0 followers: ${zero.seconds.toFixed(1)} s, ` +
    `${(posts / zero.seconds).toFixed(0)} posts/s; ${followerCount} followers: ${many.seconds.toFixed(1)} s). CPU from /proc (utime + stime; PostgreSQL with its backends). ` +
    `Of the totals, the stack's idle work over the same time accounts for about ${idleShare(zero).toFixed(2)} and ${idleShare(many).toFixed(2)} CPU-ms per post. ` +
    `The client runs in its own process and is not counted.`,
);
await service.stop();
await admin.disconnect();
await services.close();
process.exit(0);
