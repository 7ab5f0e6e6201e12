import type { FeedReader } from "./reader";
import type { LiveEvents, LiveFeed } from "../feeds/live";
import { type FeedKey, type Item, type WireItem, feedOrder, positionOf } from "../model/feed";

/** What a connection sends: items rendered as pages serve them. */
export type LiveHomeEvent = { type: "add"; item: Item } | { type: "remove"; id: string };

/**
 * One connection to a user's live home feed (docs/contract.md, `feed.onItem`): each add carries its
 * item's feed position; a reconnect from a position first gets exactly the feed's items after
 * it (read from the feed, oldest first), then the live events; removals are their own events;
 * and no item id is sent twice on one connection.
 *
 * The live subscription is opened (and the user's place among their streams taken) before this
 * resolves, and before the feed is read, so nothing written in between is missed; whatever both
 * give is sent once. The same holds for the pulled accounts the feed merges in (hybrid fan-out):
 * the stream listens to their channels before it reads the feed, and again, then reads the feed
 * after where it is, whenever the accounts change (a `sources` event).
 */
export async function openLiveHome<T>(
  deps: { live: LiveFeed; reader: FeedReader },
  userId: string,
  since: FeedKey | undefined,
  signal: AbortSignal | undefined,
  /** What the connection sends for an event and the position a reconnect resumes from (tRPC's `tracked`): made here, so that no generator wraps this one per event. */
  track: (at: FeedKey, event: LiveHomeEvent) => T,
) {
  const events = await deps.live.subscribe(userId, signal);
  try {
    await events.listenTo(await deps.reader.sources(userId));
  } catch (err) {
    await events.return(undefined);
    throw err;
  }
  return stream(deps.reader, events, userId, since, track);
}

async function* stream<T>(reader: FeedReader, events: LiveEvents, userId: string, since: FeedKey | undefined, track: (at: FeedKey, event: LiveHomeEvent) => T) {
  const sent = new Set<string>();
  const removed = new Set<string>();
  // Where a reconnect should resume: the newest position sent, or where this connection began.
  let newest: FeedKey = since ?? { createdAt: new Date(), id: "" };
  const add = (item: Item) => {
    if (sent.has(item.id)) return undefined;
    sent.add(item.id);
    const at = positionOf(item);
    if (after(at, newest)) newest = at;
    return track(at, { type: "add", item });
  };
  try {
    if (since) {
      for (const item of (await newerThan(reader, userId, since, reader.length)).reverse()) {
        const out = add(item);
        if (out) yield out;
      }
    }
    for await (const event of events) {
      if (event.type === "sources") {
        await events.listenTo(await reader.sources(userId));
        // What the accounts now pulled in published before the stream listened: it is in the feed.
        for (const item of (await newerThan(reader, userId, newest, reader.length)).reverse()) {
          const out = add(item);
          if (out) yield out;
        }
      } else if (event.type === "add") {
        if (sent.has(event.item.id)) continue;
        const render = rendered(reader, event.item);
        const out = add(render instanceof Promise ? await render : render);
        if (out) yield out;
      } else if (event.type === "remove" && !removed.has(event.id)) {
        removed.add(event.id);
        // A removal has no position of its own: it carries the newest one sent, so a reconnect
        // from it resumes where the adds left off.
        yield track(newest, event);
      }
    }
  } finally {
    await events.return(undefined);
  }
}

/**
 * Live adds as rendered, by the message's item: every stream of a process that a message reaches
 * gets the same parsed event (src/feeds/live.ts), so it is rendered once, with one look-up of its
 * objects, not once per stream; the streams that come after the render has finished take the
 * item itself, with no await. A failed render is not kept.
 */
const renders = new WeakMap<WireItem, Item | Promise<Item>>();
function rendered(reader: FeedReader, item: WireItem): Item | Promise<Item> {
  let render = renders.get(item);
  if (!render) {
    const rendering = reader.enrich([item]).then(([out]) => out!);
    renders.set(item, rendering);
    rendering.then(
      (out) => renders.set(item, out),
      () => renders.delete(item),
    );
    render = rendering;
  }
  return render;
}

/** The feed's items after `since` (newest first), at most `length` of them. */
async function newerThan(reader: FeedReader, userId: string, since: FeedKey, length: number) {
  const out: Item[] = [];
  let cursor: FeedKey | undefined;
  while (out.length < length) {
    const page = await reader.home(userId, 100, cursor);
    for (const item of page) {
      if (!after(positionOf(item), since)) return out;
      out.push(item);
    }
    if (page.length < 100) return out;
    cursor = positionOf(page.at(-1)!);
  }
  return out;
}

/** Whether `a` comes before `b` in feed order (is newer). */
const after = (a: FeedKey, b: FeedKey) => feedOrder(a, b) < 0;
