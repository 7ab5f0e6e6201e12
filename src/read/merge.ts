import type { FeedKey, WireItem } from "../model/feed";

/**
 * The first `n` items of a home page merged from the feed's own rows and the pulled accounts'
 * lists (hybrid fan-out), each list already the first `n` of its own after the page's cursor: newest
 * first in feed order, each item once. An item in both (pushed before its account was pulled) is
 * taken from the account's list, which its own stream keeps current (a rename rewrites it there).
 */
export function mergePages(n: number, own: WireItem[], pulled: WireItem[][]): WireItem[] {
  const byId = new Map<string, WireItem>();
  for (const list of pulled) for (const item of list) byId.set(item.id, item);
  for (const item of own) if (!byId.has(item.id)) byId.set(item.id, item);
  return [...byId.values()].sort(newestFirst).slice(0, n);
}

/**
 * Feed order on the wire form: `createdAt` is always `toISOString()`'s fixed-width UTC form, so
 * comparing the strings compares the times (no Date made per comparison); ties by the larger id.
 */
function newestFirst(a: WireItem, b: WireItem) {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id > b.id ? -1 : a.id < b.id ? 1 : 0;
}

/** Whether an item comes after (is older than) a position in feed order: what a page after that cursor holds. */
export function comesAfter(item: WireItem, at: FeedKey) {
  const cursor = at.createdAt.toISOString();
  return item.createdAt < cursor || (item.createdAt === cursor && item.id < at.id);
}
