import type { FeedStore } from "../../store/feeds";

/** What a handler may use: the feed store, the feed's retained length, and the event's write time. */
export interface HandlerContext {
  feeds: FeedStore;
  feedLength: number;
  /** The write time of every write for the event being applied (src/stream/write-time.ts). */
  ts: number;
  /** Called once per activity written to feeds, with its source commit time (for the freshness histogram). */
  onFanout(writes: number, sourceTs: number | null): void;
}
