import { KafkaJSProtocolError } from "kafkajs";

/** Thrown by a write after the member may have lost its partition: the batch stops, uncommitted. */
export class FencedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FencedError";
  }
}

/** Heartbeat replies that mean this member no longer holds its assignment. */
const membershipLost = new Set(["REBALANCE_IN_PROGRESS", "UNKNOWN_MEMBER_ID", "ILLEGAL_GENERATION", "FENCED_INSTANCE_ID"]);

/**
 * A member's lease on the partitions of the batch it is applying. A member paused past the
 * session timeout (a GC pause, a stopped VM, SIGSTOP) or cut off from the coordinator may have
 * lost its partitions to another member without knowing it. So the lease ends when a heartbeat is
 * answered with a membership error, or once no heartbeat has been answered for longer than the
 * session timeout less the heartbeat interval (kafkajs sends a heartbeat at most once per
 * interval, so the last one answered may be that old). `check()` throws FencedError from then on;
 * the stream view calls it before every write.
 *
 * The lease narrows the window in which a stale member writes; it cannot close it (a pause can
 * fall between a check and the write it allows). Write times close it: see write-time.ts.
 */
export function createLease(opts: { sessionTimeoutMs: number; heartbeatIntervalMs: number; now?: () => number }) {
  const now = opts.now ?? Date.now;
  const validMs = opts.sessionTimeoutMs - opts.heartbeatIntervalMs;
  let renewedAt = now();
  let lost: string | undefined;
  return {
    /** Heart-beats (kafkajs's eachBatch `heartbeat`); renews the lease, or ends it on a membership error. Never throws. */
    async heartbeat(heartbeat: () => Promise<void>) {
      try {
        await heartbeat();
        if (!lost) renewedAt = now();
      } catch (err) {
        if (err instanceof KafkaJSProtocolError && membershipLost.has(err.type)) lost ??= `the group answered a heartbeat with ${err.type}`;
        // anything else (a broker away): the lease runs out on its own if it lasts
      }
    },
    check() {
      if (lost) throw new FencedError(`this member may have lost its partition: ${lost}`);
      const silent = now() - renewedAt;
      if (silent > validMs) throw new FencedError(`this member may have lost its partition: no heartbeat answered for ${silent} ms`);
    },
  };
}

export type Lease = ReturnType<typeof createLease>;
