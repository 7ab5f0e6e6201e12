import type { ObjectCache } from "../feeds/objects";
import { type Item, type Looked, type ObjectRef, type PostObject, type WireItem, refKey, refsOf, render } from "../model/feed";

/**
 * Renders items for a page or a live event: each item's object joined in from the object cache
 * (src/feeds/objects.ts), in one round trip to Redis for the whole page. Pages of SHARDs only
 * need none. An item captured before its source row named its post's author (migration 005)
 * takes the author from the post, in a second look-up.
 */
export function createEnricher(objects: ObjectCache) {
  return async function enrich(items: WireItem[]): Promise<Item[]> {
    const refs = items.flatMap(refsOf);
    const looked: Looked = refs.length > 0 ? await objects.get(refs) : new Map();
    const authors: ObjectRef[] = [];
    for (const i of items) {
      if (i.verb === "SHARD" || i.object.type !== "post" || i.object.authorId) continue;
      const post = looked.get(refKey({ type: "post", id: i.object.id })) as PostObject | null | undefined;
      if (post && !looked.has(refKey({ type: "user", id: post.authorId }))) authors.push({ type: "user", id: post.authorId });
    }
    if (authors.length > 0) for (const [k, v] of await objects.get(authors)) looked.set(k, v);
    return items.map((i) => render(i, looked));
  };
}

export type Enrich = ReturnType<typeof createEnricher>;
