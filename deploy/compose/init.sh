#!/bin/sh
# One-shot set-up steps of docker-compose.yml: the same work `npm run stack -- up` does in
# deploy/stack/schema.ts, done with each image's own tools (POSIX sh: the images have no bash
# for sure, and no jq). Each step is repeatable: a second run changes nothing.
#
#   init.sh topics     Kafka topics of plannedTopics()             (apache/kafka image)
#   init.sh postgres   PostgreSQL migrations + schema_migrations   (postgres image)
#   init.sh cassandra  keyspace, schema_migrations, CQL migrations (cassandra image)
#   init.sh connector  registers the Debezium connector, waits until RUNNING (debezium/connect image)
#
# Settings come from the service's own FEEDLINE_* variables, with the values seen from inside
# the compose network as defaults (host names are service names, ports are container ports).
set -eu

DEPLOY_DIR=${DEPLOY_DIR:-/deploy}
DAY_MS=86400000

log() { printf '[init %s] %s\n' "$STEP" "$*"; }
die() { printf '[init %s] error: %s\n' "$STEP" "$*" >&2; exit 1; }

# retry TIMES CMD...: runs CMD once a second until it succeeds, at most TIMES times.
retry() {
  retry_left=$1
  shift
  until "$@"; do
    retry_left=$((retry_left - 1))
    [ "$retry_left" -gt 0 ] || return 1
    sleep 1
  done
}

# is_migration FILE EXT: the names schema.ts's migrationFiles() accepts, NNN_name.ext.
is_migration() { printf '%s\n' "$1" | grep -Eq "^[0-9]{3}_[a-z0-9_]+\.$2\$"; }

# version_of FILE: 001_schema.sql -> 1, as Number.parseInt does.
version_of() { printf '%s\n' "${1%%_*}" | sed 's/^0*\(.\)/\1/'; }

# in_list VALUE LIST: LIST holds VALUE as a whole line.
in_list() { printf '%s\n' "$2" | grep -qxF -- "$1"; }

# ---------------------------------------------------------------------------------------------
# Kafka: the topics of plannedTopics() in deploy/stack/schema.ts. The broker has topic
# auto-creation off, so Debezium can only write to topics created here.

kafka_topics() {
  "${KAFKA_TOPICS_SH:-/opt/kafka/bin/kafka-topics.sh}" --bootstrap-server "$KAFKA_BOOTSTRAP" "$@"
}

# create_topic TOPIC PARTITIONS CONFIG...: creates TOPIC unless it exists; notes an existing one.
create_topic() {
  topic=$1
  partitions=$2
  shift 2
  PLANNED="$PLANNED $topic $partitions"
  if in_list "$topic" "$EXISTING"; then
    PRESENT=yes
    return
  fi
  for config do
    set -- "$@" --config "$config"
    shift
  done
  kafka_topics --create --if-not-exists --topic "$topic" --partitions "$partitions" \
    --replication-factor "$REPLICATION" "$@"
  log "created $topic"
}

cmd_topics() {
  KAFKA_BOOTSTRAP="${FEEDLINE_KAFKA_HOST:-kafka}:${FEEDLINE_KAFKA_PORT:-9092}"
  prefix=${FEEDLINE_TOPIC_PREFIX:-feedline}
  REPLICATION=${FEEDLINE_TOPIC_REPLICATION:-1}
  change_partitions=${FEEDLINE_TOPIC_PARTITIONS:-6}
  PLANNED=""
  PRESENT=no

  retry 60 kafka_topics --list >/dev/null 2>&1 || die "no Kafka broker answers at $KAFKA_BOOTSTRAP"
  EXISTING=$(kafka_topics --list)

  # Change topics, one per captured table (capturedTables in src/clients/kafka.ts): compacted, with a
  # day of full history and a day of visible tombstones. See docs/operations.md.
  for table in users follows posts comments likes; do
    create_topic "$prefix.public.$table" "$change_partitions" \
      cleanup.policy=compact min.compaction.lag.ms=$DAY_MS delete.retention.ms=$DAY_MS segment.ms=$DAY_MS
  done
  create_topic "$prefix.public.debezium_signal" 1 cleanup.policy=delete retention.ms=$DAY_MS
  # The router's re-keyed events, consumed by the feed worker (see docs/stream.md).
  create_topic "$prefix.events" "$change_partitions" cleanup.policy=delete retention.ms=$((7 * DAY_MS))
  create_topic "$prefix.dlq" 1 cleanup.policy=delete retention.ms=$((14 * DAY_MS))
  create_topic "__debezium-heartbeat.$prefix" 1 cleanup.policy=delete retention.ms=$DAY_MS

  # As ensureTopics() does: an existing topic keeps its partitions; say so when they differ.
  if [ "$PRESENT" = yes ]; then
    kafka_topics --describe | awk -F '\t' -v planned="$PLANNED" '
      BEGIN { n = split(planned, w, " "); for (i = 1; i < n; i += 2) want[w[i]] = w[i + 1] }
      /PartitionCount: / {
        topic = ""; count = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Topic: /) topic = substr($i, 8)
          if ($i ~ /^PartitionCount: /) count = substr($i, 17)
        }
        if ((topic in want) && want[topic] != count)
          printf "[init topics] warning: %s has %s partitions, configured %s\n", topic, count, want[topic]
      }'
  fi
  log "topics ready"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL: migratePostgres() of schema.ts. Each migration not recorded in schema_migrations
# runs in its own transaction together with the insert that records it.

psql_() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

cmd_postgres() {
  export PGHOST="${FEEDLINE_PG_HOST:-postgres}" PGPORT="${FEEDLINE_PG_PORT:-5432}"
  export PGUSER="${FEEDLINE_PG_USER:-feedline}" PGPASSWORD="${FEEDLINE_PG_PASSWORD:-feedline}"
  export PGDATABASE="${FEEDLINE_PG_DATABASE:-feedline}"

  retry 60 pg_isready -q || die "PostgreSQL at $PGHOST:$PGPORT does not answer"
  psql_ -c 'create table if not exists schema_migrations (version int primary key, name text not null, applied_at timestamptz not null default now())'
  applied=$(psql_ -At -c 'select version from schema_migrations')

  for path in "$DEPLOY_DIR"/postgres/migrations/*; do
    name=${path##*/}
    is_migration "$name" sql || continue
    version=$(version_of "$name")
    in_list "$version" "$applied" && continue
    # The name matches [a-z0-9_.] only, so it is safe inside the quotes.
    psql_ --single-transaction -f "$path" \
      -c "insert into schema_migrations (version, name) values ($version, '$name')"
    log "applied $name"
  done
  log "migrations up to date"
}

# ---------------------------------------------------------------------------------------------
# Cassandra: migrateCassandra() of schema.ts. cqlsh runs each file with the keyspace as the
# current one (-k), which is what schema.ts's qualifying of table/index/type names achieves.
# All statements are IF NOT EXISTS, so a file cut short by an error can simply run again.

cql() { cqlsh "$@" "${FEEDLINE_CASSANDRA_HOST:-cassandra}" "${FEEDLINE_CASSANDRA_PORT:-9042}"; }

cmd_cassandra() {
  keyspace=${FEEDLINE_CASSANDRA_KEYSPACE:-feedline}
  replication=${FEEDLINE_CASSANDRA_REPLICATION:-1}

  retry 120 cql -e 'describe keyspaces' >/dev/null 2>&1 || die "Cassandra does not answer"
  cql -e "CREATE KEYSPACE IF NOT EXISTS $keyspace WITH replication = {'class': 'SimpleStrategy', 'replication_factor': $replication}"
  cql -e "CREATE TABLE IF NOT EXISTS $keyspace.schema_migrations (version int PRIMARY KEY, name text, applied_at timestamp)"
  # cqlsh prints a table; the versions are the lines that are only digits once blanks are gone.
  applied=$(cql -e "SELECT version FROM $keyspace.schema_migrations" | tr -d ' \r')

  for path in "$DEPLOY_DIR"/cassandra/migrations/*; do
    name=${path##*/}
    is_migration "$name" cql || continue
    version=$(version_of "$name")
    in_list "$version" "$applied" && continue
    cql -k "$keyspace" -f "$path"
    cql -e "INSERT INTO $keyspace.schema_migrations (version, name, applied_at) VALUES ($version, '$name', toTimestamp(now()))"
    log "applied $name"
  done
  log "keyspace $keyspace up to date"
}

# ---------------------------------------------------------------------------------------------
# Kafka Connect: registerConnector() of schema.ts. The local tool PUTs the file's `config` to
# /connectors/<name>/config; here, without jq to pull `config` out, the whole file ({name, config})
# is POSTed to /connectors when the connector does not exist yet, and nothing is sent when it
# does. For a stack being set up that is the same request with the same result. Unlike the local
# tool it does not update a connector that exists with another config: after editing
# deploy/connectors/feedline-postgres.json, run `npm run stack -- up` against these ports (it PUTs
# the new config), or DELETE the connector and run this step again.

# http METHOD URL [CURL ARGS...]: prints the status code (000: no answer); the body goes to $BODY.
http() {
  http_method=$1
  http_url=$2
  shift 2
  http_code=$(curl -s -o "$BODY" -w '%{http_code}' -X "$http_method" "$@" "$http_url" || true)
  printf '%s\n' "${http_code:-000}"
}

register_connector() {
  tries=60 # once a second, as the local tool's 60 s deadline
  while :; do
    code=$(http POST "$CONNECT_URL/connectors" -H 'Content-Type: application/json' --data-binary "@$CONNECTOR_FILE")
    case $code in
      201) log "connector $CONNECTOR registered"; return ;;
      409)
        # Either a rebalance is under way (retry) or the connector appeared meanwhile (done).
        if [ "$(http GET "$CONNECT_URL/connectors/$CONNECTOR")" = 200 ]; then
          log "connector $CONNECTOR registered"
          return
        fi ;;
      000 | 5??) ;;
      *) die "registering connector $CONNECTOR failed: $code $(cat "$BODY")" ;;
    esac
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || die "registering connector $CONNECTOR failed: $code $(cat "$BODY")"
    sleep 1
  done
}

# The probe of src/health.ts: the connector and at least one task, all RUNNING.
wait_running() {
  tries=120
  while :; do
    code=$(http GET "$CONNECT_URL/connectors/$CONNECTOR/status")
    if [ "$code" = 200 ]; then
      states=$(grep -o '"state":"[A-Z_]*"' "$BODY" | sed 's/.*:"\(.*\)"/\1/' || true)
      total=$(printf '%s\n' "$states" | grep -c . || true)
      running=$(printf '%s\n' "$states" | grep -cx RUNNING || true)
      if printf '%s\n' "$states" | grep -qx FAILED; then
        die "connector $CONNECTOR failed: $(cat "$BODY")"
      fi
      if [ "$total" -ge 2 ] && [ "$running" -eq "$total" ]; then
        log "connector $CONNECTOR is RUNNING"
        return
      fi
    fi
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || die "connector $CONNECTOR is not RUNNING after 120 s: $code $(cat "$BODY" 2>/dev/null || true)"
    sleep 1
  done
}

cmd_connector() {
  CONNECT_URL="http://${FEEDLINE_CONNECT_HOST:-connect}:${FEEDLINE_CONNECT_PORT:-8083}"
  CONNECTOR=feedline-postgres
  CONNECTOR_FILE="$DEPLOY_DIR/connectors/$CONNECTOR.json"
  BODY="${TMPDIR:-/tmp}/feedline-connect.$$"
  trap 'rm -f "$BODY"' EXIT
  [ -r "$CONNECTOR_FILE" ] || die "cannot read $CONNECTOR_FILE"

  retry 180 curl -fs -o /dev/null "$CONNECT_URL/connectors" || die "Kafka Connect does not answer at $CONNECT_URL"
  code=$(http GET "$CONNECT_URL/connectors/$CONNECTOR")
  case $code in
    200) log "connector $CONNECTOR already registered" ;;
    404) register_connector ;;
    *) die "GET /connectors/$CONNECTOR answered $code $(cat "$BODY")" ;;
  esac
  wait_running
}

# ---------------------------------------------------------------------------------------------

STEP=${1:-}
case $STEP in
  topics) cmd_topics ;;
  postgres) cmd_postgres ;;
  cassandra) cmd_cassandra ;;
  connector) cmd_connector ;;
  *)
    echo "usage: init.sh topics|postgres|cassandra|connector" >&2
    exit 2
    ;;
esac
