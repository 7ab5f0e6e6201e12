import { type Activity, excerptOf } from "../../model/activity";
import type { Rows } from "../envelope";
import { completeFeeds } from "../../fanout/complete";
import type { WriteContext } from "../../fanout/context";
import { settle, targetsOf } from "../../fanout/hybrid";

/**
 * An activity appears in its actor's feed and in each follower's (a pulled account's followers
 * read it from the account's cache: src/fanout/hybrid.ts; a dormant follower's feed is completed
 * when they return: src/fanout/inactive.ts); it goes from all of them. Runs in the
 * actor's serial stream, which also owns the actor's followers, reach and user row.
 */
export async function upsertActivity(ctx: WriteContext, activity: Activity, sourceTs: number) {
  const actor = await ctx.feeds.getUser(activity.actorId);
  // The actor's own row has not arrived yet (topics are not ordered with each other): the
  // activity waits in activities_by_actor and is fanned out when the user row arrives.
  if (!actor) return void (await ctx.feeds.putActivity(activity, ctx.ts));
  await settle(ctx, activity.actorId);
  const item = { ...activity, actorHandle: actor.handle };
  const [own, ...followers] = await targetsOf(ctx, activity.actorId);
  // The activity row goes with the actor's own feed row, in one request, and before the followers
  // are asked who is dormant: a returning user's catch-up, which lets the fan-out write to them
  // again before it reads the activities, then finds it (src/fanout/inactive.ts).
  let written = await ctx.fanout.add([own!], item, ctx.ts, undefined, { withActivity: true });
  if (followers.length > 0) written += await ctx.fanout.add(await ctx.dormancy.awake(followers), item, ctx.ts);
  ctx.onFanout(written, sourceTs);
  await ctx.fanout.account.add([{ ...item, ts: ctx.ts }], (await ctx.feeds.reach(activity.actorId)).pulled);
}

/**
 * Removed from every feed it may have reached, then from the actor's activities; feeds it leaves
 * short of N are completed. A pulled account's activity too goes from every follower's feed: it
 * may have been pushed before the account was pulled, or written back by a completion that raced
 * with the switch, and the removal's later write time shadows either.
 */
export async function deleteActivity(ctx: WriteContext, activity: Activity) {
  const targets = [activity.actorId, ...(await ctx.feeds.followers(activity.actorId))];
  await ctx.fanout.remove(targets, activity, ctx.ts);
  await ctx.fanout.account.remove(activity.actorId, activity, ctx.ts);
  await ctx.feeds.deleteActivity(activity, ctx.ts);
  await completeFeeds(ctx, targets);
}

/** The activity a source row stands for, with its deterministic id (docs/contract.md): replaying the row's events can only rewrite it. */
export const toActivity = {
  posts: (r: Rows["posts"]): Activity => ({
    id: `shard:${r.id}`,
    verb: "SHARD",
    actorId: r.author_id,
    createdAt: new Date(r.created_at),
    object: { type: "post", id: r.id, authorId: r.author_id },
    postId: r.id,
    excerpt: excerptOf(r.body),
  }),
  comments: (r: Rows["comments"]): Activity => ({
    id: `comment:${r.id}`,
    verb: "COMMENT",
    actorId: r.author_id,
    createdAt: new Date(r.created_at),
    object: { type: "post", id: r.post_id, authorId: r.post_author_id ?? null },
    postId: r.post_id,
    excerpt: excerptOf(r.body),
  }),
  likes: (r: Rows["likes"]): Activity => ({
    id: `like:${r.user_id}:${r.post_id}`,
    verb: "LIKE",
    actorId: r.user_id,
    createdAt: new Date(r.created_at),
    object: { type: "post", id: r.post_id, authorId: r.post_author_id ?? null },
    postId: r.post_id,
    excerpt: null,
  }),
  follows: (r: Rows["follows"]): Activity => ({
    id: `follow:${r.follower_id}:${r.followee_id}`,
    verb: "FOLLOW",
    actorId: r.follower_id,
    createdAt: new Date(r.created_at),
    object: { type: "user", id: r.followee_id, authorId: null },
    postId: null,
    excerpt: null,
  }),
};
