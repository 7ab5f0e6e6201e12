import type { FeedStore } from "../feeds/store";
import type { Fanout } from "./fanout";
import type { ObjectCache } from "../feeds/objects";
import type { Notifier } from "./notify";
import type { Dormancy } from "../feeds/dormancy";

/**
 * What an event's handler (and a completion it runs) may use: the feed store, the fan-out, the
 * object cache, the feed's retained length, and the event's write time. In the stream all three
 * are guarded by the member's lease (src/stream/unit-of-work.ts).
 */
export interface WriteContext {
  feeds: FeedStore;
  fanout: Fanout;
  /** Posts and users as pages render them (src/feeds/objects.ts): their Cassandra rows are the feed store's. */
  objects: Pick<ObjectCache, "put">;
  /** The notified users' groups and marks (src/fanout/notify.ts). */
  notifier: Notifier;
  feedLength: number;
  /** When an account is pulled at read time instead of pushed (hybrid fan-out: src/fanout/hybrid.ts). */
  hybrid: { threshold: number; pushBelow: number };
  /** Who reads (src/feeds/dormancy.ts): the fan-out of a new activity skips dormant users; a new user counts as reading. */
  dormancy: Pick<Dormancy, "awake" | "seen">;
  /** The write time of every write for the event being applied (src/model/write-time.ts). */
  ts: number;
  /** Called once per activity written to feeds, with its source commit time (for the freshness histogram). */
  onFanout(writes: number, sourceTs: number | null): void;
}
