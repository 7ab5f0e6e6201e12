-- A like or a comment names the author of the post it is on. The author of a post never
-- changes, so the column is a copy that cannot go stale, set by the database itself on every
-- insert (whatever writes the row). It stays nullable so that a like of a post that does not
-- exist fails on the foreign key, as before (POST_NOT_FOUND), not on this column; the foreign
-- key then keeps it from ever being null. The change stream needs it: a LIKE or COMMENT item renders
-- its post's author (docs/stream.md, "Enriched items") without a look-up in another user's
-- stream, and the router can send the event to that author (notifications).
--
-- Filling the rows that exist updates each of them once: each update is one change event,
-- which the workers apply as the upsert it is (the same feed rows, rewritten). On a large
-- database, run this at a quiet time (docs/operations.md, "Upgrading to enriched items").

create function set_post_author() returns trigger language plpgsql as $$
begin
  select author_id into new.post_author_id from posts where id = new.post_id;
  return new;
end
$$;

alter table likes add column post_author_id bigint;
alter table comments add column post_author_id bigint;

create trigger likes_post_author before insert or update of post_id on likes for each row execute function set_post_author();
create trigger comments_post_author before insert or update of post_id on comments for each row execute function set_post_author();

update likes l set post_author_id = p.author_id from posts p where p.id = l.post_id;
update comments c set post_author_id = p.author_id from posts p where p.id = c.post_id;

-- Every post once more through the stream, so that the author's stream writes it as an object
-- (Cassandra `posts`, src/feeds/objects.ts) for the LIKE and COMMENT items that render it. An
-- update that changes nothing still reaches logical decoding as one change event per row.
update posts set body = body;
