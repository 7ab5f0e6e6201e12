-- TRUNCATE writes no row-level change: logical decoding reports it as one message that Debezium
-- skips by default, so every feed built from the truncated rows would keep them for good. The
-- captured tables refuse it with an error that says what to do instead.
create function refuse_truncate() returns trigger language plpgsql as $$
begin
  raise exception 'TRUNCATE of % is refused: feeds are built from row-level changes and a truncate has none', tg_table_name
    using errcode = '0A000',
          hint = 'Delete the rows instead (each delete reaches every feed), or rebuild all derived state as docs/operations.md describes.';
end
$$;

create trigger users_refuse_truncate before truncate on users for each statement execute function refuse_truncate();
create trigger follows_refuse_truncate before truncate on follows for each statement execute function refuse_truncate();
create trigger posts_refuse_truncate before truncate on posts for each statement execute function refuse_truncate();
create trigger comments_refuse_truncate before truncate on comments for each statement execute function refuse_truncate();
create trigger likes_refuse_truncate before truncate on likes for each statement execute function refuse_truncate();
