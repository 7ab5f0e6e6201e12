import { describe, expect, test } from "bun:test";
import { groupIdOf, marksOf, notificationRefs } from "../../src/model/notification";

const day = 86_400_000;
const like = { verb: "LIKE" as const, object: { type: "post" as const, id: "7", authorId: "2" } };

describe("notification groups", () => {
  test("actions on one object in one window share a group id; another window or verb is another group", () => {
    const at = (ms: number) => groupIdOf({ ...like, createdAt: new Date(ms) }, day);
    expect(at(20_000 * day + 1)).toBe("like:7:20000");
    expect(at(20_000 * day + day - 1)).toBe(at(20_000 * day));
    expect(at(20_001 * day)).not.toBe(at(20_000 * day));
    expect(groupIdOf({ verb: "COMMENT", object: like.object, createdAt: new Date(20_000 * day) }, day)).toBe("comment:7:20000");
  });

  test("a group is seen and read up to the marks: marking all read marks it seen too; a later action makes it new again", () => {
    const group = { id: "like:7:1", updatedAt: new Date(1000) };
    const marks = (seenAt: number, readAt: number, one?: number) => ({ seenAt, readAt, readAtOf: new Map(one ? [["like:7:1", one]] : []) });
    expect(marksOf(group, marks(0, 0))).toEqual({ seen: false, read: false });
    expect(marksOf(group, marks(1000, 0))).toEqual({ seen: true, read: false });
    expect(marksOf(group, marks(0, 0, 1000))).toEqual({ seen: false, read: true });
    expect(marksOf(group, marks(0, 1000))).toEqual({ seen: true, read: true });
    expect(marksOf({ ...group, updatedAt: new Date(1001) }, marks(1000, 1000, 1000))).toEqual({ seen: false, read: false });
  });

  test("rendering a group looks up its actors and its post and the post's author, or its user", () => {
    const group = { id: "x", verb: "LIKE" as const, object: like.object, actorIds: ["4", "5"], actorCount: 9, createdAt: new Date(0), updatedAt: new Date(0) };
    expect(notificationRefs(group)).toEqual([{ type: "user", id: "4" }, { type: "user", id: "5" }, { type: "post", id: "7" }, { type: "user", id: "2" }]);
    expect(notificationRefs({ ...group, verb: "FOLLOW", object: { type: "user", id: "2", authorId: null } })).toEqual([
      { type: "user", id: "4" },
      { type: "user", id: "5" },
      { type: "user", id: "2" },
    ]);
  });
});
