import type { LiveFeed } from "../feeds/live";
import type { NotificationStore } from "../feeds/notifications";
import { type FeedKey, type UserObject, refKey, viewOf } from "../model/feed";
import { type Notification, type NotificationGroup, type NotificationMarks, marksOf, notificationRefs } from "../model/notification";
import type { LookUp } from "./enrich";

/** Unseen groups are counted up to this many (a badge shows "99+"): the count reads at most this many rows. */
export const unseenCap = 100;

/**
 * The read side of notifications (docs/notifications.md): pages of groups newest first, from
 * Cassandra, each rendered (actors' handles, the post or user) from the object cache; the
 * unseen count; and the live stream of changes. Never PostgreSQL.
 */
export function createNotificationReader({ store, lookUp, live }: { store: NotificationStore; lookUp: LookUp; live: LiveFeed }) {
  async function render(groups: NotificationGroup[], marks: NotificationMarks): Promise<Notification[]> {
    const looked = await lookUp(groups.flatMap(notificationRefs), groups.map((g) => g.object));
    return groups.map((g) => ({
      id: g.id,
      verb: g.verb,
      actors: g.actorIds.map((id) => ({ id, handle: (looked.get(refKey({ type: "user", id })) as UserObject | null | undefined)?.handle ?? null })),
      actorCount: g.actorCount,
      object: viewOf(g.object, looked),
      createdAt: g.createdAt.toISOString(),
      updatedAt: g.updatedAt.toISOString(),
      ...marksOf(g, marks),
    }));
  }

  /** Groups with a newest action after what the user has seen (marking all read marks them seen too). */
  const unseen = (userId: string, marks: NotificationMarks) => store.newerThan(userId, Math.max(marks.seenAt, marks.readAt), unseenCap);
  const unseenNow = async (userId: string) => unseen(userId, await store.marks(userId));

  /** Up to `n` groups after `after`, in page order, as they are now. */
  async function groups(userId: string, n: number, after?: FeedKey) {
    const places = await store.page(userId, n, after);
    const byId = new Map((await store.groups(userId, places.map((p) => p.id))).map((g) => [g.id, g]));
    // A place whose group has moved on since (or is gone) is not shown: each group once, where its view says.
    return places.flatMap((p) => {
      const g = byId.get(p.id);
      return g && g.updatedAt.getTime() === p.createdAt.getTime() ? [g] : [];
    });
  }

  return {
    /** Up to `n` groups after `after` (newest action first), rendered, and the unseen count. */
    async list(userId: string, n: number, after?: FeedKey) {
      const marks = await store.marks(userId);
      const [page, count] = await Promise.all([groups(userId, n, after), unseen(userId, marks)]);
      return { items: await render(page, marks), unseen: count };
    },

    /** The newest action time of the user's groups (what marking all seen or read marks up to), or null with none. */
    newest: async (userId: string) => (await groups(userId, 1))[0]?.updatedAt ?? null,

    /** The groups of these ids that exist, with their newest action times; `missing` lists the rest. */
    async find(userId: string, groupIds: string[]) {
      const found = await store.groups(userId, groupIds);
      const ids = new Set(found.map((g) => g.id));
      return { found, missing: groupIds.filter((id) => !ids.has(id)) };
    },

    unseen: unseenNow,

    /**
     * The user's notifications, live: `{ unseen }` at once, then `{ unseen, item }` for each group
     * that changed (without `item` when it is gone, or when the change was a mark). Opened before
     * this resolves, so no change after it is missed.
     */
    async open(userId: string, signal?: AbortSignal) {
      const events = await live.subscribe(userId, signal);
      return (async function* () {
        try {
          yield { unseen: await unseenNow(userId) };
          for await (const event of events) {
            if (event.type !== "notification") continue;
            const marks = await store.marks(userId);
            const [count, changed] = await Promise.all([unseen(userId, marks), event.groupId ? store.groups(userId, [event.groupId]) : []]);
            const [item] = await render(changed, marks);
            yield item ? { unseen: count, item } : { unseen: count };
          }
        } finally {
          await events.return(undefined);
        }
      })();
    },
  };
}

export type NotificationReader = ReturnType<typeof createNotificationReader>;
