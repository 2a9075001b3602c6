#!/usr/bin/env bash
# make ha-test: a Patroni cluster on this machine (etcd, three PostgreSQL
# 15 + PostGIS nodes with synchronous replication, HAProxy), three sparcd
# replicas on it, mixed load, the primary's postmaster killed (kill -9),
# and the figures of the failover (deploy/patroni/hatest prints them and
# exits non-zero when a target is missed). Everything it starts is
# stopped on exit, success or not. Runs as root (PostgreSQL runs as the
# postgres user, through runuser) and needs the Debian packages `make ha-test` installs:
# patroni, etcd-server, haproxy, postgresql-15-postgis-3.
#
# Environment: HA_BIN (a directory holding sparcd and hatest already
# built; default: build them into the work directory), HA_DIR (work directory; default a new one under /tmp),
# HA_KEEP=1 (keep it after the run, logs included), HA_BEFORE / HA_AFTER
# (load before the kill and after the new primary, default 20s / 30s),
# HA_REPLICAS (sparcd processes, default 3), HA_PORT_BASE (default 25400),
# HA_KILL=node (kill the primary's Patroni too: a lost machine, failed
# over when its leader key expires, instead of a crashed PostgreSQL).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

# Root hands the data directories to the postgres user and runs Patroni
# as it (make ha-test runs this script with sudo when needed).
[ "$(id -u)" = 0 ] || { echo "ha-test: run as root (make ha-test uses sudo)"; exit 2; }
as_pg=(runuser -u postgres --)
for tool in patroni etcd haproxy envsubst psql curl; do
	command -v "$tool" >/dev/null || { echo "ha-test: $tool is missing (make ha-test installs it)"; exit 2; }
done
[ -f /usr/share/postgresql/15/extension/postgis.control ] || { echo "ha-test: PostGIS is missing (make postgis)"; exit 2; }

base=${HA_PORT_BASE:-25400}
export ETCD_CLIENT_PORT=$((base + 0)) ETCD_PEER_PORT=$((base + 1))
export RW_PORT=$((base + 10)) RO_PORT=$((base + 11)) STATS_PORT=$((base + 12))
export PG_PORT_1=$((base + 21)) PG_PORT_2=$((base + 22)) PG_PORT_3=$((base + 23))
export API_PORT_1=$((base + 31)) API_PORT_2=$((base + 32)) API_PORT_3=$((base + 33))
replicas=${HA_REPLICAS:-3}

HA_DIR=${HA_DIR:-$(mktemp -d /tmp/sparc-ha.XXXXXX)}
export HA_DIR
# The work directory is removed at the end: never one holding anything.
if [ -d "$HA_DIR" ] && [ -n "$(ls -A "$HA_DIR")" ]; then
	echo "ha-test: HA_DIR $HA_DIR is not empty"
	exit 2
fi
mkdir -p "$HA_DIR"
chmod 755 "$HA_DIR"
logs=$HA_DIR/logs
mkdir -p "$logs"
echo "ha-test: work directory $HA_DIR"

secret() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }
export PG_SUPERUSER_PASSWORD PG_REPLICATION_PASSWORD PG_REWIND_PASSWORD
PG_SUPERUSER_PASSWORD=$(secret) PG_REPLICATION_PASSWORD=$(secret) PG_REWIND_PASSWORD=$(secret)
sparc_password=$(secret)

pids=()   # processes started here, stopped in reverse order
patroni_pidfiles=()
teardown() {
	local rc=$?
	set +e
	echo "ha-test: tearing down"
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null; done
	# Patroni stops its PostgreSQL on SIGTERM (a fast shutdown) and exits.
	for f in "${patroni_pidfiles[@]}"; do
		[ -f "$f" ] && "${as_pg[@]}" kill "$(cat "$f")" 2>/dev/null
	done
	for _ in $(seq 60); do
		alive=0
		for f in "${patroni_pidfiles[@]}"; do [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1; done
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.5
	done
	# Anything left holding the work directory (a postmaster orphaned by a
	# killed Patroni) is ours: stop it by its pid.
	for n in 1 2 3; do
		pidfile=$HA_DIR/pg$n/data/postmaster.pid
		if [ -f "$pidfile" ]; then
			p=$(head -1 "$pidfile")
			kill -0 "$p" 2>/dev/null && "${as_pg[@]}" kill -9 "$p" 2>/dev/null
		fi
	done
	sleep 0.5
	left=$(pgrep -f "$HA_DIR" || true)
	if [ -n "$left" ]; then
		echo "ha-test: processes left behind, stopping them: $left"
		for p in $left; do kill -9 "$p" 2>/dev/null || "${as_pg[@]}" kill -9 "$p" 2>/dev/null; done
		[ $rc = 0 ] && rc=1
	fi
	if [ "${HA_KEEP:-0}" = 1 ]; then
		echo "ha-test: kept $HA_DIR"
	else
		rm -rf "$HA_DIR"
	fi
	exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

render() { envsubst < "$1" > "$2"; }

# etcd: the leader lock.
render "$here/etcd.yml.in" "$HA_DIR/etcd.yml"
etcd --config-file "$HA_DIR/etcd.yml" > "$logs/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health" >/dev/null || { echo "ha-test: etcd did not start"; cat "$logs/etcd.log"; exit 1; }

# Three Patroni nodes, as the postgres user (PostgreSQL refuses root).
for n in 1 2 3; do
	pg=PG_PORT_$n api=API_PORT_$n
	NODE=pg$n PG_PORT=${!pg} API_PORT=${!api} envsubst < "$here/patroni.yml.in" > "$HA_DIR/pg$n.yml"
	mkdir -p "$HA_DIR/pg$n/log"
	chown -R postgres:postgres "$HA_DIR/pg$n" "$HA_DIR/pg$n.yml"
	chmod 700 "$HA_DIR/pg$n"
	chmod 600 "$HA_DIR/pg$n.yml" # it holds the passwords
	"${as_pg[@]}" sh -c 'echo $$ > "$1"; exec patroni "$2"' sh "$HA_DIR/pg$n/patroni.pid" "$HA_DIR/pg$n.yml" \
		> "$logs/patroni-pg$n.log" 2>&1 &
	patroni_pidfiles+=("$HA_DIR/pg$n/patroni.pid")
	[ $n = 1 ] && sleep 3 # pg1 bootstraps the cluster; the others clone it
done

# HAProxy: read-write and read-only ports.
render "$here/haproxy.cfg.in" "$HA_DIR/haproxy.cfg"
haproxy -W -db -f "$HA_DIR/haproxy.cfg" > "$logs/haproxy.log" 2>&1 &
pids+=($!)

# Wait for a primary with a synchronous standby and a second streaming replica.
echo "ha-test: waiting for the cluster (leader, sync standby, replica)"
ready=0
for _ in $(seq 240); do
	c=$(curl -fsS "http://127.0.0.1:$API_PORT_1/cluster" 2>/dev/null || true)
	if [ "$(grep -o '"state": *"\(running\|streaming\)"' <<<"$c" | wc -l)" = 3 ] && grep -q '"role": *"sync_standby"' <<<"$c" \
		&& grep -q '"role": *"leader"' <<<"$c"; then
		ready=1
		break
	fi
	sleep 1
done
[ $ready = 1 ] || { echo "ha-test: the cluster did not form"; tail -30 "$logs"/patroni-*.log; exit 1; }
patronictl -c "$HA_DIR/pg1.yml" list

# The database and its owner, through the read-write port.
export PGPASSWORD=$PG_SUPERUSER_PASSWORD
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$RW_PORT" -U postgres -d postgres <<SQL
CREATE ROLE sparc LOGIN PASSWORD '$sparc_password' CREATEROLE;
CREATE DATABASE sparc OWNER sparc;
\c sparc
CREATE EXTENSION postgis;
CREATE EXTENSION unaccent;
SQL
unset PGPASSWORD

# sparcd, built once; the first replica loads the demo directory and
# prints its keys, the others start on the migrated database.
if [ -n "${HA_BIN:-}" ]; then
	bin=$HA_BIN # built by make ha-test as the invoking user
else
	echo "ha-test: building sparcd and the load driver"
	bin=$HA_DIR
	(cd "$repo" && go build -o "$bin/sparcd" ./cmd/sparcd && go build -o "$bin/hatest" ./deploy/patroni/hatest)
fi
data_key=$(head -c 32 /dev/urandom | base64)
db_url="postgres://sparc:$sparc_password@127.0.0.1:$RW_PORT/sparc?sslmode=disable"
read_url="postgres://sparc:$sparc_password@127.0.0.1:$RO_PORT/sparc?sslmode=disable"
grpc_addrs=() http_addrs=() sparcd_logs=()
start_sparcd() { # index, extra flags...
	local i=$1
	shift
	local g=127.0.0.1:$((base + 40 + i)) h=127.0.0.1:$((base + 50 + i))
	SPARC_DATA_KEY=$data_key DATABASE_URL=$db_url SPARC_DATABASE_READ_URL=$read_url \
		"$bin/sparcd" --grpc-addr "$g" --http-addr "$h" --log-format json \
		--webhook-allow-private --webhook-max-backoff 2s --rate-limit 100000 --rate-burst 100000 \
		--data-dir "$HA_DIR/sparcd-$i" "$@" > "$logs/sparcd-$i.log" 2>&1 &
	pids+=($!)
	grpc_addrs+=("$g") http_addrs+=("$h") sparcd_logs+=("$logs/sparcd-$i.log")
	for _ in $(seq 300); do
		curl -fsS "http://$h/readyz" >/dev/null 2>&1 && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || { echo "ha-test: sparcd $i exited"; tail -20 "$logs/sparcd-$i.log"; return 1; }
		sleep 0.5
	done
	echo "ha-test: sparcd $i not ready"; return 1
}
start_sparcd 1 --demo
key=$(sed -n 's/^  link_worker *\(\S*\)$/\1/p' "$logs/sparcd-1.log" | tail -1)
[ -n "$key" ] || { echo "ha-test: no link worker key in sparcd's output"; exit 1; }
for ((i = 2; i <= replicas; i++)); do start_sparcd "$i"; done
echo "ha-test: $replicas sparcd replicas ready"

join() { local IFS=,; echo "$*"; }
nodes=pg1=$HA_DIR/pg1/data,pg2=$HA_DIR/pg2/data,pg3=$HA_DIR/pg3/data
# The key and the superuser's URL through the environment, out of ps.
HATEST_KEY=$key HATEST_DB="postgres://postgres:$PG_SUPERUSER_PASSWORD@127.0.0.1:$RW_PORT/sparc?sslmode=disable" \
	"$bin/hatest" --grpc "$(join "${grpc_addrs[@]}")" --http "$(join "${http_addrs[@]}")" \
	--patroni "http://127.0.0.1:$API_PORT_1,http://127.0.0.1:$API_PORT_2,http://127.0.0.1:$API_PORT_3" \
	--nodes "$nodes" --as-postgres "${as_pg[*]}" --logs "$(join "${sparcd_logs[@]}")" \
	--before "${HA_BEFORE:-20s}" --after "${HA_AFTER:-30s}" --kill-node="$([ "${HA_KILL:-}" = node ] && echo true || echo false)"
patronictl -c "$HA_DIR/pg1.yml" list
