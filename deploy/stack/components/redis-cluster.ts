import { mkdirSync, rmSync } from "node:fs";
import type { StackContext } from "../context";
import { ensurePortFree, run, sleep } from "../proc";
import { StackError } from "../errors";
import { daemon } from "./component";

/**
 * A local Redis Cluster of three masters (no replicas), started on demand for the tests that
 * check the cache on a cluster (tests/clients/redis-cluster.integration.test.ts): Debian's
 * redis-server in cluster mode on ports 27101–27103, each with its cluster bus on the port + 10
 * (below Linux's ephemeral range, as every stack port: docs/stack.md), loopback only, no
 * persistence, a fresh data directory each start. Not part of `up`: the service's default is one
 * Redis node.
 */
export const redisClusterPorts = [27101, 27102, 27103] as const;

export function redisClusterComponent(ctx: StackContext) {
  const dir = (port: number) => ctx.data("redis-cluster", String(port));
  const nodes = redisClusterPorts.map((port) => ({ port, d: daemon(ctx, `redis-cluster-${port}`) }));
  const cli = (port: number, ...args: string[]) => run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args]);
  const ok = (port: number) => {
    try {
      return /^cluster_state:ok/m.test(cli(port, "cluster", "info"));
    } catch {
      return false;
    }
  };

  return {
    nodes: redisClusterPorts.map((port) => ({ host: "127.0.0.1", port })),

    /** Starts the three nodes on empty data directories, creates the cluster, and waits until every node says it is ok. */
    async start() {
      await this.stop();
      for (const { port, d } of nodes) {
        await ensurePortFree(port, "(redis-cluster ports are fixed)", "the Redis Cluster");
        await ensurePortFree(port + 10, "(redis-cluster ports are fixed)", "the Redis Cluster's bus");
        rmSync(dir(port), { recursive: true, force: true });
        mkdirSync(dir(port), { recursive: true });
        const probe = async () => void cli(port, "ping");
        // argv kept as given (--set-proc-title no): the process is recognisable as ours by its state dir.
        await d.start("redis-server", [
          "--port", String(port), "--cluster-port", String(port + 10), "--bind", "127.0.0.1", "--daemonize", "no",
          "--dir", dir(port), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
          "--save", "", "--appendonly", "no", "--set-proc-title", "no",
        ], probe, 20_000);
      }
      run("redis-cli", ["--cluster", "create", ...redisClusterPorts.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"]);
      for (let waited = 0; !redisClusterPorts.every(ok); waited += 100) {
        if (waited > 30_000) throw new StackError("the Redis Cluster did not reach cluster_state:ok within 30 s");
        await sleep(100);
      }
    },

    /** Stops the nodes that run and deletes their data. */
    async stop() {
      for (const { port, d } of nodes) {
        await d.stop();
        rmSync(dir(port), { recursive: true, force: true });
      }
    },
  };
}
