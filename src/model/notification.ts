import { type ObjectRef, type PostView, type UserView, objectRefs } from "./feed";

/** Notifications (docs/notifications.md): what others did to a user, grouped. */

export type NotificationVerb = "FOLLOW" | "LIKE" | "COMMENT" | "MENTION";

/** One action a user is notified of, from its source row: replaying the row can only rewrite it. */
export interface NotificationAction {
  /** The user notified. */
  recipient: string;
  verb: NotificationVerb;
  /** The source row's activity id (`like:<user>:<post>`, `comment:<id>`, `follow:<a>:<b>`), or `mention:<id>`. */
  id: string;
  actorId: string;
  /** Event time: the source row's creation time. */
  createdAt: Date;
  /** The post liked, commented on or mentioned in (with its author when the row names it), or the user followed (the recipient). */
  object: { type: "post" | "user"; id: string; authorId: string | null };
}

/**
 * The group an action belongs to: its verb, its object and the time window its event time falls
 * in, as a deterministic id (`like:<post>:<window>`), so a replay finds the same group.
 */
export const groupIdOf = (a: Pick<NotificationAction, "verb" | "object" | "createdAt">, windowMs: number) =>
  `${a.verb.toLowerCase()}:${a.object.id}:${Math.floor(a.createdAt.getTime() / windowMs)}`;

/** How many of a group's newest actors it shows. */
export const shownActors = 3;

/** A group as the store holds it. */
export interface NotificationGroup {
  id: string;
  verb: NotificationVerb;
  object: NotificationAction["object"];
  /** The newest distinct actors, newest first (at most `shownActors`). */
  actorIds: string[];
  actorCount: number;
  /** The group's oldest and newest action times. */
  createdAt: Date;
  updatedAt: Date;
}

/** What the user marked: seen and read up to these times, for every group and per group. */
export interface NotificationMarks {
  seenAt: number;
  readAt: number;
  readAtOf: Map<string, number>;
}

/** A group as `notifications.list` serves it. */
export type Notification = {
  id: string;
  verb: NotificationVerb;
  actors: { id: string; handle: string | null }[];
  actorCount: number;
  object: PostView | UserView;
  createdAt: string;
  updatedAt: string;
  seen: boolean;
  read: boolean;
};

/** Whether the user has seen / read a group: its newest action is no newer than their marks (marking everything read also marks it seen). */
export function marksOf(group: Pick<NotificationGroup, "id" | "updatedAt">, marks: NotificationMarks) {
  const t = group.updatedAt.getTime();
  const readAt = Math.max(marks.readAt, marks.readAtOf.get(group.id) ?? 0);
  return { seen: t <= Math.max(marks.seenAt, marks.readAt), read: t <= readAt };
}

/** The objects a group needs looked up to render: its actors, and its post or user. */
export const notificationRefs = (group: NotificationGroup): ObjectRef[] => [...group.actorIds.map((id) => ({ type: "user" as const, id })), ...objectRefs(group.object)];
