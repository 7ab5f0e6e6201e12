-- The source of truth: every user action is a row here; Debezium streams these tables.
-- Ids are bigint identities (strings on the wire). Every table has a primary key, and
-- REPLICA IDENTITY FULL on every captured table: an update carries the old row as `before` and a
-- delete carries the whole row, which the fan-out needs to undo an activity (who unliked what).

create table users (
  id           bigint generated always as identity primary key,
  handle       text not null,
  display_name text,
  created_at   timestamptz not null default now(),
  constraint users_handle_format check (handle ~ '^[a-z0-9_]{3,30}$')
);
create unique index users_handle_key on users (handle);
alter table users replica identity full;

create table follows (
  follower_id bigint not null references users (id) on delete cascade,
  followee_id bigint not null references users (id) on delete cascade,
  created_at  timestamptz not null default now(),
  -- The primary key makes a double follow impossible.
  primary key (follower_id, followee_id),
  constraint follows_not_self check (follower_id <> followee_id)
);
-- "Who follows U" (fan-out targets) reads by followee.
create index follows_followee_idx on follows (followee_id, follower_id);
alter table follows replica identity full;

create table posts (
  id         bigint generated always as identity primary key,
  author_id  bigint not null references users (id) on delete cascade,
  body       text not null,
  created_at timestamptz not null default now()
);
create index posts_author_created_idx on posts (author_id, created_at desc, id desc);
alter table posts replica identity full;

create table comments (
  id         bigint generated always as identity primary key,
  post_id    bigint not null references posts (id) on delete cascade,
  author_id  bigint not null references users (id) on delete cascade,
  body       text not null,
  created_at timestamptz not null default now()
);
create index comments_post_idx on comments (post_id);
create index comments_author_created_idx on comments (author_id, created_at desc, id desc);
alter table comments replica identity full;

create table likes (
  user_id    bigint not null references users (id) on delete cascade,
  post_id    bigint not null references posts (id) on delete cascade,
  created_at timestamptz not null default now(),
  -- The primary key makes a double like impossible.
  primary key (user_id, post_id)
);
create index likes_post_idx on likes (post_id);
create index likes_user_created_idx on likes (user_id, created_at desc);
alter table likes replica identity full;
