-- Notifications (docs/notifications.md). Two more captured tables, both facts of the source of
-- truth like every other: who a post or a comment mentions, and what each user marked seen or read.

-- Who a post or comment mentions: `@handle` in its body, resolved to the user who has that handle
-- when the row is written (a later rename does not move the mention). Filled by the database on
-- every insert, whatever writes the row; deleted with the post or comment (cascade: each delete
-- is a change event of its own). `post_id` is the post the mention is on (for a comment, the
-- post commented on), the object its notification shows.
create table mentions (
  id         bigint generated always as identity primary key,
  post_id    bigint not null references posts (id) on delete cascade,
  comment_id bigint references comments (id) on delete cascade,
  user_id    bigint not null references users (id) on delete cascade,
  author_id  bigint not null references users (id) on delete cascade,
  created_at timestamptz not null
);
create index mentions_post_idx on mentions (post_id);
create index mentions_comment_idx on mentions (comment_id);
create index mentions_user_idx on mentions (user_id);
alter table mentions replica identity full;
create trigger mentions_refuse_truncate before truncate on mentions for each statement execute function refuse_truncate();

-- `@handle` where the `@` does not follow a word character (so not in e-mail addresses) and the
-- handle is not followed by one; handles are matched case-insensitively (they are lower case).
create function mentioned_handles(body text) returns setof text language sql immutable as $$
  select distinct lower(m[1]) from regexp_matches(body, '(?:^|[^A-Za-z0-9_@])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_])', 'g') as m
$$;

create function record_post_mentions() returns trigger language plpgsql as $$
begin
  insert into mentions (post_id, comment_id, user_id, author_id, created_at)
  select new.id, null, u.id, new.author_id, new.created_at from mentioned_handles(new.body) h join users u on u.handle = h;
  return null;
end
$$;

create function record_comment_mentions() returns trigger language plpgsql as $$
begin
  insert into mentions (post_id, comment_id, user_id, author_id, created_at)
  select new.post_id, new.id, u.id, new.author_id, new.created_at from mentioned_handles(new.body) h join users u on u.handle = h;
  return null;
end
$$;

create trigger posts_mentions after insert on posts for each row execute function record_post_mentions();
create trigger comments_mentions after insert on comments for each row execute function record_comment_mentions();

-- What a user marked: `group_id` '' for every group (markSeen sets seen_at, markRead without ids
-- read_at), or one group (markRead with ids: read_at). Each mark is a time a group's newest
-- action is compared with, and only ever grows (the write API sets the greatest).
create table notification_marks (
  user_id  bigint not null references users (id) on delete cascade,
  group_id text not null default '',
  seen_at  timestamptz,
  read_at  timestamptz,
  primary key (user_id, group_id)
);
alter table notification_marks replica identity full;
create trigger notification_marks_refuse_truncate before truncate on notification_marks for each statement execute function refuse_truncate();
