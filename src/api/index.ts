import { createCallerFactory, router } from "./trpc";
import { commentsRouter } from "./comments";
import { followsRouter } from "./follows";
import { feedRouter } from "./feed";
import { healthRouter } from "./health";
import { likesRouter } from "./likes";
import { notificationsRouter } from "./notifications";
import { postsRouter } from "./posts";
import { usersRouter } from "./users";

export const appRouter = router({
  health: healthRouter.health,
  users: usersRouter,
  follows: followsRouter,
  posts: postsRouter,
  comments: commentsRouter,
  likes: likesRouter,
  feed: feedRouter,
  notifications: notificationsRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
