import type { ObjectCache } from "../feeds/objects";
import { type Item, type Looked, type ObjectRef, type PostObject, type WireItem, refKey, refsOf, render } from "../model/feed";

type ObjectOfItem = WireItem["object"];

/**
 * Looks objects up for rendering (src/feeds/objects.ts): the ones named, in one round trip to
 * Redis, then the authors of the posts among `objects` whose author the caller did not know (an
 * item captured before its source row named it, migration 005; a mention in a comment), in a
 * second.
 */
export function createLookUp(objects: ObjectCache) {
  return async function lookUp(refs: ObjectRef[], about: ObjectOfItem[]): Promise<Looked> {
    const looked: Looked = refs.length > 0 ? await objects.get(refs) : new Map();
    const authors: ObjectRef[] = [];
    for (const o of about) {
      if (o.type !== "post" || o.authorId) continue;
      const post = looked.get(refKey({ type: "post", id: o.id })) as PostObject | null | undefined;
      if (post && !looked.has(refKey({ type: "user", id: post.authorId }))) authors.push({ type: "user", id: post.authorId });
    }
    if (authors.length > 0) for (const [k, v] of await objects.get(authors)) looked.set(k, v);
    return looked;
  };
}

export type LookUp = ReturnType<typeof createLookUp>;

/**
 * Renders items for a page or a live event: each item's object joined in from the object cache,
 * in one round trip to Redis for the whole page. Pages of SHARDs only need none.
 */
export function createEnricher(lookUp: LookUp) {
  return async function enrich(items: WireItem[]): Promise<Item[]> {
    const looked = await lookUp(items.flatMap(refsOf), items.flatMap((i) => (i.verb === "SHARD" ? [] : [i.object])));
    return items.map((i) => render(i, looked));
  };
}

export type Enrich = ReturnType<typeof createEnricher>;
