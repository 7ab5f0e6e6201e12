import type { LiveFeed } from "../feeds/live";
import type { NotificationStore } from "../feeds/notifications";
import { type NotificationAction, type NotificationGroup, groupIdOf, shownActors } from "../model/notification";

/**
 * Applies one action to the notified user's groups (docs/notifications.md). Runs in that user's
 * serial stream, the only writer of their groups, so each step may read what the previous ones
 * wrote. In order, every step idempotent at the event's write time `ts`:
 *
 * 1. **Count.** Unless the action is already recorded (an add) or already gone (a removal), the
 *    action, its actor's action count and the group's actor count change in one logged batch.
 *    Counting is the only step that depends on what was there before; the batch makes it happen
 *    once, and the check makes a replay skip it.
 * 2. **View.** The group's newest actors and times. When the action just counted is the group's
 *    first, or newer than its newest, the view follows from the stored one and the action;
 *    otherwise (a removal, an action arriving late, a replay) it is computed again from the
 *    group's actions. Either way it is what the actions that exist imply, whatever order events
 *    are replayed in: a stored view is always the last event's, and older events write older.
 * 3. **Order.** When the group's newest time changed, its old place in page order is deleted and
 *    the new one written, before the view that records the time: a crash in between replays
 *    both. An emptied group is deleted.
 * 4. **Live.** The user's open streams hear that the group changed.
 */
export function createNotifier({ store, live, windowMs }: { store: NotificationStore; live: LiveFeed; windowMs: number }) {
  /** The view the group's actions imply (null when it has none): its newest distinct actors are among its newest actions, a few per actor shown. */
  async function recomputed(user: string, groupId: string): Promise<View | null> {
    const newest = await store.newestActions(user, groupId, shownActors * 20);
    if (newest.length === 0) return null;
    const updatedAt = newest[0]!.createdAt;
    const actorIds = [...new Set(newest.map((a) => a.actorId))].slice(0, shownActors);
    return { actorIds, createdAt: (await store.oldestAction(user, groupId)) ?? updatedAt, updatedAt };
  }

  return {
    async apply(action: NotificationAction, op: "add" | "remove", ts: number, beforeStep: () => void = () => {}) {
      const user = action.recipient;
      const groupId = groupIdOf(action, windowMs);
      const [before, recorded, actorActions] = await Promise.all([
        store.group(user, groupId),
        store.hasAction(action, groupId),
        store.actorActions(user, groupId, action.actorId),
      ]);
      const counting = recorded !== (op === "add");
      if (counting) {
        const actions = actorActions + (op === "add" ? 1 : -1);
        const joined = op === "add" && actions === 1 ? 1 : op === "remove" && actions === 0 ? -1 : 0;
        beforeStep();
        await store.count(action, groupId, { add: op === "add", actorActions: Math.max(0, actions), actorCount: Math.max(0, before.counted + joined) }, ts);
      }

      const view = (counting && op === "add" ? following(before, action) : undefined) ?? (await recomputed(user, groupId));
      const oldPlace = before.view && { createdAt: before.view.updatedAt, id: groupId };
      beforeStep();
      if (!view) {
        if (oldPlace) await store.movePlace(user, oldPlace, null, ts);
        await store.deleteGroup(user, groupId, ts);
      } else {
        if (oldPlace?.createdAt.getTime() !== view.updatedAt.getTime()) await store.movePlace(user, oldPlace, { createdAt: view.updatedAt, id: groupId }, ts);
        await store.putGroup(user, { id: groupId, verb: action.verb, object: action.object, ...view }, ts);
      }
      beforeStep();
      await live.publish([user], [{ type: "notification", groupId }]);
    },

    /** A user's marks (PostgreSQL's notification_marks rows) into the store, and the user's open streams told once. */
    async mark(userId: string, marks: { groupId: string; seenAt?: Date | null; readAt?: Date | null }[]) {
      await Promise.all(marks.map((m) => store.putMark(userId, m.groupId, m)));
      await live.publish([userId], [{ type: "notification" }]);
    },
  };
}

export type Notifier = ReturnType<typeof createNotifier>;

type View = Pick<NotificationGroup, "actorIds" | "createdAt" | "updatedAt">;

/**
 * The view after adding an action newer than every other (or the group's first: nothing counted
 * before it), from the stored view alone; undefined when it must be computed from the actions.
 */
function following(before: { counted: number; view: NotificationGroup | null }, a: NotificationAction): View | undefined {
  const t = a.createdAt;
  if (before.counted === 0) return { actorIds: [a.actorId], createdAt: t, updatedAt: t };
  if (!before.view || t.getTime() <= before.view.updatedAt.getTime()) return undefined;
  return { actorIds: [...new Set([a.actorId, ...before.view.actorIds])].slice(0, shownActors), createdAt: before.view.createdAt, updatedAt: t };
}
