import type { CassandraClient } from "../clients/cassandra";
import type { FeedKey } from "../model/feed";
import type { NotificationAction, NotificationGroup, NotificationMarks } from "../model/notification";

/**
 * The notification store, in Cassandra (deploy/cassandra/migrations/004_notifications.cql): per
 * user notified, each group's actions and per-actor action counts, the groups, their page order,
 * and the user's marks. A plain repository: how a change to a group is applied is the notifier's
 * job (src/fanout/notify.ts). Every stream write carries its event's write time.
 */
export function createNotificationStore({ cassandra: db }: { cassandra: CassandraClient }) {
  const q = {
    action: "SELECT actor_id FROM notification_actions WHERE user_id = ? AND group_id = ? AND created_at = ? AND action_id = ?",
    putAction: "INSERT INTO notification_actions (user_id, group_id, created_at, action_id, actor_id) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?",
    deleteAction: "DELETE FROM notification_actions USING TIMESTAMP ? WHERE user_id = ? AND group_id = ? AND created_at = ? AND action_id = ?",
    newest: "SELECT created_at, actor_id FROM notification_actions WHERE user_id = ? AND group_id = ? LIMIT ?",
    oldest: "SELECT created_at FROM notification_actions WHERE user_id = ? AND group_id = ? ORDER BY created_at ASC, action_id ASC LIMIT 1",
    actorActions: "SELECT actions FROM notification_actors WHERE user_id = ? AND group_id = ? AND actor_id = ?",
    putActorActions: "INSERT INTO notification_actors (user_id, group_id, actor_id, actions) VALUES (?, ?, ?, ?) USING TIMESTAMP ?",
    deleteActor: "DELETE FROM notification_actors USING TIMESTAMP ? WHERE user_id = ? AND group_id = ? AND actor_id = ?",
    group: "SELECT * FROM notification_groups WHERE user_id = ? AND group_id = ?",
    groups: "SELECT * FROM notification_groups WHERE user_id = ? AND group_id IN ?",
    putCount: "UPDATE notification_groups USING TIMESTAMP ? SET actor_count = ? WHERE user_id = ? AND group_id = ?",
    putGroup: `UPDATE notification_groups USING TIMESTAMP ? SET verb = ?, object_type = ?, object_id = ?, object_author_id = ?, actors = ?,
      created_at = ?, updated_at = ? WHERE user_id = ? AND group_id = ?`,
    deleteGroup: "DELETE FROM notification_groups USING TIMESTAMP ? WHERE user_id = ? AND group_id = ?",
    putOrder: "INSERT INTO notifications_by_time (user_id, updated_at, group_id) VALUES (?, ?, ?) USING TIMESTAMP ?",
    deleteOrder: "DELETE FROM notifications_by_time USING TIMESTAMP ? WHERE user_id = ? AND updated_at = ? AND group_id = ?",
    page: "SELECT updated_at, group_id FROM notifications_by_time WHERE user_id = ? LIMIT ?",
    pageAfter: "SELECT updated_at, group_id FROM notifications_by_time WHERE user_id = ? AND (updated_at, group_id) < (?, ?) LIMIT ?",
    newerThan: "SELECT group_id FROM notifications_by_time WHERE user_id = ? AND updated_at > ? LIMIT ?",
    marks: "SELECT group_id, seen_at, read_at FROM notification_marks WHERE user_id = ?",
    putSeen: "UPDATE notification_marks USING TIMESTAMP ? SET seen_at = ? WHERE user_id = ? AND group_id = ?",
    putRead: "UPDATE notification_marks USING TIMESTAMP ? SET read_at = ? WHERE user_id = ? AND group_id = ?",
  };
  const toGroup = (r: Record<string, unknown>): NotificationGroup => ({
    id: r.group_id as string,
    verb: r.verb as NotificationGroup["verb"],
    object: { type: r.object_type as "post" | "user", id: r.object_id as string, authorId: (r.object_author_id as string | null) ?? null },
    actorIds: (r.actors as string[] | null) ?? [],
    actorCount: (r.actor_count as number | null) ?? 0,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
  });
  /** A row holding only a count (its view not written yet, or a crash in between) is not a group a page shows. */
  const complete = (r: Record<string, unknown>) => r.updated_at !== null && r.verb !== null;

  return {
    /** Whether the action is recorded in its group. */
    hasAction: async (a: NotificationAction, groupId: string) => (await db.execute(q.action, [a.recipient, groupId, a.createdAt, a.id])).rowLength > 0,
    /** How many of the group's actions the actor made. */
    actorActions: async (userId: string, groupId: string, actorId: string) => ((await db.execute(q.actorActions, [userId, groupId, actorId])).first()?.actions as number | undefined) ?? 0,
    /**
     * Records (or removes) the action, the actor's new action count and the group's new actor
     * count at once: one logged batch, so a crash leaves all three or none.
     */
    count: (a: NotificationAction, groupId: string, change: { add: boolean; actorActions: number; actorCount: number }, ts: number) =>
      db.batch(
        [
          change.add
            ? { query: q.putAction, params: [a.recipient, groupId, a.createdAt, a.id, a.actorId, ts] }
            : { query: q.deleteAction, params: [ts, a.recipient, groupId, a.createdAt, a.id] },
          change.actorActions > 0
            ? { query: q.putActorActions, params: [a.recipient, groupId, a.actorId, change.actorActions, ts] }
            : { query: q.deleteActor, params: [ts, a.recipient, groupId, a.actorId] },
          { query: q.putCount, params: [ts, change.actorCount, a.recipient, groupId] },
        ],
        { logged: true },
      ),
    /** The group's newest actions (time, actor), newest first. */
    newestActions: async (userId: string, groupId: string, limit: number) =>
      (await db.execute(q.newest, [userId, groupId, limit])).rows.map((r) => ({ createdAt: r.created_at as Date, actorId: r.actor_id as string })),
    oldestAction: async (userId: string, groupId: string) => ((await db.execute(q.oldest, [userId, groupId])).first()?.created_at as Date | undefined) ?? null,

    /** The group as stored: its actor count (0 without a row), and its view (null until written). */
    async group(userId: string, groupId: string): Promise<{ counted: number; view: NotificationGroup | null }> {
      const row = (await db.execute(q.group, [userId, groupId])).first();
      return { counted: (row?.actor_count as number | null) ?? 0, view: row && complete(row) ? toGroup(row) : null };
    },
    /** The groups that exist, of these ids (one partition). */
    async groups(userId: string, groupIds: string[]): Promise<NotificationGroup[]> {
      if (groupIds.length === 0) return [];
      return (await db.execute(q.groups, [userId, groupIds])).rows.filter(complete).map(toGroup);
    },
    putGroup: (userId: string, g: Omit<NotificationGroup, "actorCount">, ts: number) =>
      db.execute(q.putGroup, [ts, g.verb, g.object.type, g.object.id, g.object.authorId, g.actorIds, g.createdAt, g.updatedAt, userId, g.id]),
    deleteGroup: (userId: string, groupId: string, ts: number) => db.execute(q.deleteGroup, [ts, userId, groupId]),
    /**
     * Moves a group's place in page order (by its newest action's time) from `from` to `to`
     * (either may be null): one batch of one partition, which Cassandra applies atomically.
     */
    movePlace: (userId: string, from: FeedKey | null, to: FeedKey | null, ts: number) =>
      db.batch(
        [
          ...(from ? [{ query: q.deleteOrder, params: [ts, userId, from.createdAt, from.id] }] : []),
          ...(to ? [{ query: q.putOrder, params: [userId, to.createdAt, to.id, ts] }] : []),
        ],
        { logged: false },
      ),

    /** Up to `limit` groups' places in page order (newest first), from the start or after a place. */
    async page(userId: string, limit: number, after?: FeedKey): Promise<FeedKey[]> {
      const [query, params] = after ? [q.pageAfter, [userId, after.createdAt, after.id, limit]] : [q.page, [userId, limit]];
      return (await db.execute(query, params)).rows.map((r) => ({ createdAt: r.updated_at as Date, id: r.group_id as string }));
    },
    /** How many groups have a newest action after `since` (ms), counted up to `cap`. */
    newerThan: async (userId: string, since: number, cap: number) => (await db.execute(q.newerThan, [userId, new Date(since), cap], { fetchSize: cap })).rowLength,

    /** The user's marks (0 where none). */
    async marks(userId: string): Promise<NotificationMarks> {
      const marks: NotificationMarks = { seenAt: 0, readAt: 0, readAtOf: new Map() };
      for (const r of (await db.execute(q.marks, [userId], { fetchSize: 5000, autoPage: true })).rows) {
        const [seen, read] = [(r.seen_at as Date | null)?.getTime() ?? 0, (r.read_at as Date | null)?.getTime() ?? 0];
        if (r.group_id === "") Object.assign(marks, { seenAt: seen, readAt: read });
        else marks.readAtOf.set(r.group_id as string, read);
      }
      return marks;
    },
    /** A mark, written with its own value as its write time: the greatest wins, whoever writes it and in whatever order. */
    async putMark(userId: string, groupId: string, mark: { seenAt?: Date | null; readAt?: Date | null }) {
      const writes = [];
      if (mark.seenAt) writes.push(db.execute(q.putSeen, [mark.seenAt.getTime() * 1000, mark.seenAt, userId, groupId]));
      if (mark.readAt) writes.push(db.execute(q.putRead, [mark.readAt.getTime() * 1000, mark.readAt, userId, groupId]));
      await Promise.all(writes);
    },
  };
}

export type NotificationStore = ReturnType<typeof createNotificationStore>;
