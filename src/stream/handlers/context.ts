import type { FeedStore } from "../../store/feeds";

/** What a handler may use: the feed store and the feed's retained length. */
export interface HandlerContext {
  feeds: FeedStore;
  feedLength: number;
  /** Called once per activity written to feeds, with its source commit time (for the freshness histogram). */
  onFanout(writes: number, sourceTs: number | null): void;
}
