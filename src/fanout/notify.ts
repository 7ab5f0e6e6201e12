import type { LiveFeed } from "../feeds/live";
import type { NotificationStore } from "../feeds/notifications";
import { type NotificationAction, groupIdOf, shownActors } from "../model/notification";

/**
 * Applies one action to the notified user's groups (docs/notifications.md). Runs in that user's
 * serial stream, the only writer of their groups, so each step may read what the previous ones
 * wrote. In order, every step idempotent at the event's write time `ts`:
 *
 * 1. **Count.** Unless the action is already recorded (an add) or already gone (a removal), the
 *    action, its actor's action count and the group's actor count change in one logged batch.
 *    Counting is the only step that depends on what was there before; the batch makes it happen
 *    once, and the check makes a replay skip it.
 * 2. **View.** The group's newest actors and times are computed again from its actions, so a
 *    replay, or an earlier event replayed after later ones, computes the same view.
 * 3. **Order.** When the group's newest time changed, its old place in page order is deleted and
 *    the new one written, before the view that records the time: a crash in between replays
 *    both. An emptied group is deleted.
 * 4. **Live.** The user's open streams hear that the group changed.
 */
export function createNotifier({ store, live, windowMs }: { store: NotificationStore; live: LiveFeed; windowMs: number }) {
  return {
    async apply(action: NotificationAction, op: "add" | "remove", ts: number, beforeStep: () => void = () => {}) {
      const user = action.recipient;
      const groupId = groupIdOf(action, windowMs);
      const before = await store.group(user, groupId);
      const recorded = await store.hasAction(action, groupId);
      if (recorded !== (op === "add")) {
        const actions = (await store.actorActions(user, groupId, action.actorId)) + (op === "add" ? 1 : -1);
        const joined = op === "add" && actions === 1 ? 1 : op === "remove" && actions === 0 ? -1 : 0;
        beforeStep();
        await store.count(action, groupId, { add: op === "add", actorActions: Math.max(0, actions), actorCount: Math.max(0, before.counted + joined) }, ts);
      }

      // The newest distinct actors are among the newest actions: a few per actor shown is plenty.
      const newest = await store.newestActions(user, groupId, shownActors * 20);
      const oldPlace = before.view && { createdAt: before.view.updatedAt, id: groupId };
      beforeStep();
      if (newest.length === 0) {
        if (oldPlace) await store.deleteOrder(user, oldPlace, ts);
        await store.deleteGroup(user, groupId, ts);
      } else {
        const updatedAt = newest[0]!.createdAt;
        const actorIds = [...new Set(newest.map((a) => a.actorId))].slice(0, shownActors);
        const createdAt = (await store.oldestAction(user, groupId)) ?? updatedAt;
        if (oldPlace?.createdAt.getTime() !== updatedAt.getTime()) {
          if (oldPlace) await store.deleteOrder(user, oldPlace, ts);
          await store.putOrder(user, { createdAt: updatedAt, id: groupId }, ts);
        }
        await store.putGroup(user, { id: groupId, verb: action.verb, object: action.object, actorIds, createdAt, updatedAt }, ts);
      }
      beforeStep();
      await live.publish([user], [{ type: "notification", groupId }]);
    },

    /** A mark (PostgreSQL's notification_marks row) into the store, and the user's open streams told. */
    async mark(userId: string, groupId: string, mark: { seenAt?: Date | null; readAt?: Date | null }) {
      await store.putMark(userId, groupId, mark);
      await live.publish([userId], [{ type: "notification" }]);
    },
  };
}

export type Notifier = ReturnType<typeof createNotifier>;
