import { type WireItem, feedOrder, positionOf } from "../model/feed";

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
  return [...byId.values()].sort((a, b) => feedOrder(positionOf(a), positionOf(b))).slice(0, n);
}
