-- Debezium's signalling table: a row inserted here asks the connector for an incremental
-- snapshot (`npm run stack -- snapshot`), which re-emits every row as op=r while streaming goes
-- on; the stream workers rebuild derived state from it. Debezium also writes its snapshot
-- watermarks here. Captured (in the publication) so the connector sees the signals.
create table debezium_signal (
  id   varchar(64) primary key,
  type varchar(32) not null,
  data varchar(2048)
);
