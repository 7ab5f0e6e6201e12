-- Create mutations accept an idempotency key: a client retrying after a timeout gets the first
-- answer instead of a second row. The key is recorded in the mutation's own transaction, so it
-- exists exactly when the write does. Not captured by Debezium (not in table.include.list).
create table idempotency_keys (
  scope        text not null,           -- 'user:<id>' for authenticated calls, 'anonymous' for sign-up
  key          text not null,
  procedure    text not null,
  request_hash text not null,           -- sha256 of the input: the same key with another input is refused
  response     jsonb,
  created_at   timestamptz not null default now(),
  primary key (scope, key)
);
-- For expiring old keys (see docs/api.md).
create index idempotency_keys_created_idx on idempotency_keys (created_at);
