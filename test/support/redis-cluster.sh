#!/usr/bin/env bash
# A Redis Cluster of three masters, each with one replica, on local ports, for the tests that
# run Parley with REDIS_CLUSTER_NODES (test/e2e/redis-cluster.e2e.test.ts). Needs Debian's
# redis-server 7 and redis-cli.
#
#   export REDIS_CLUSTER_TEST_NODES="$(bash test/support/redis-cluster.sh)"
#
# Prints the node list (host:port,…) on stdout once the cluster is up and `cluster_state:ok` on
# every node, with each master's replica linked; progress goes to stderr. Run it as often as you
# like: a cluster that is up is left alone, and a node that is not running (killed by the
# failover test, or gone with a reboot) is started again from its directory, where it rejoins
# as a replica. A cluster that does not come back whole is shut down and created afresh.
#
# REDIS_CLUSTER_PORTS (default "7101 7102 7103 7104 7105 7106", six ports; each also uses
# port + 10000 for the cluster bus) and REDIS_CLUSTER_DIR (default /tmp/parley-redis-cluster)
# choose where. Nothing is persisted: the nodes run without RDB snapshots or AOF.
#
#   bash test/support/redis-cluster.sh stop    # shuts the nodes down and removes the directory
set -euo pipefail

ports=(${REDIS_CLUSTER_PORTS:-7101 7102 7103 7104 7105 7106})
dir="${REDIS_CLUSTER_DIR:-/tmp/parley-redis-cluster}"
host=127.0.0.1
# Short, so that a master's replica takes over within a few seconds of the master dying.
node_timeout_ms=2000

say() { echo "redis-cluster: $*" >&2; }
cli() { redis-cli -h "$host" -p "$1" "${@:2}" 2>/dev/null; }
running() { [ "$(cli "$1" ping)" = PONG ]; }
info_field() { cli "$1" cluster info | tr -d '\r' | sed -n "s/^$2://p"; }

nodes_list() {
  local list=() port
  for port in "${ports[@]}"; do list+=("$host:$port"); done
  (IFS=,; echo "${list[*]}")
}

start_node() {
  local port=$1
  mkdir -p "$dir/$port"
  redis-server --port "$port" --bind "$host" --daemonize yes \
    --dir "$dir/$port" --logfile "$dir/$port/redis.log" --pidfile "$dir/$port/redis.pid" \
    --save "" --appendonly no \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$node_timeout_ms" \
    --cluster-replica-validity-factor 0 >/dev/null
}

# Ours: the node on that port is the process whose pid file is in our directory.
ours() {
  local pid
  pid=$(cli "$1" info server | tr -d '\r' | sed -n 's/^process_id://p')
  [ -n "$pid" ] && [ -f "$dir/$1/redis.pid" ] && [ "$(cat "$dir/$1/redis.pid")" = "$pid" ]
}

stop_all() {
  local port
  for port in "${ports[@]}"; do
    if running "$port" && ours "$port"; then cli "$port" shutdown nosave >/dev/null || true; fi
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 1 50); do running "$port" || break; sleep 0.1; done
  done
  rm -rf "$dir"
}

# Whole: every node answers and says ok, there are three masters with slots, and each has a
# replica whose link to it is up.
whole() {
  local port masters=0 linked=0 role
  for port in "${ports[@]}"; do
    running "$port" || return 1
    [ "$(info_field "$port" cluster_state)" = ok ] || return 1
    [ "$(info_field "$port" cluster_known_nodes)" = "${#ports[@]}" ] || return 1
    role=$(cli "$port" role | head -n 1)
    if [ "$role" = master ]; then
      masters=$((masters + 1))
    elif [ "$role" = slave ] && cli "$port" info replication | tr -d '\r' | grep -q '^master_link_status:up'; then
      linked=$((linked + 1))
    fi
  done
  [ "$masters" -eq 3 ] && [ "$linked" -eq 3 ]
}

wait_whole() {
  local deadline=$((SECONDS + $1))
  while [ "$SECONDS" -lt "$deadline" ]; do
    whole && return 0
    sleep 0.25
  done
  whole
}

create() {
  say "creating a cluster of ${#ports[@]} nodes in $dir"
  local port addresses=()
  for port in "${ports[@]}"; do
    start_node "$port"
    addresses+=("$host:$port")
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 1 50); do running "$port" && break; sleep 0.1; done
  done
  redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >/dev/null
}

command -v redis-server >/dev/null || { say "redis-server is not installed (apt-get install redis-server)"; exit 1; }
[ "${#ports[@]}" -eq 6 ] || { say "REDIS_CLUSTER_PORTS must name six ports"; exit 1; }

if [ "${1:-}" = stop ]; then
  stop_all
  say "stopped"
  exit 0
fi

if whole; then
  nodes_list
  exit 0
fi

# Start the nodes that are not running but have been part of the cluster: they come back with
# their identity (nodes.conf) and rejoin, a former master as its successor's replica.
for port in "${ports[@]}"; do
  if ! running "$port" && [ -s "$dir/$port/nodes.conf" ]; then
    say "starting node $port again"
    start_node "$port"
  fi
done

if [ -d "$dir" ] && wait_whole 20; then
  nodes_list
  exit 0
fi

if [ -d "$dir" ]; then
  say "the cluster did not come back whole; creating it afresh"
  stop_all
fi
for port in "${ports[@]}"; do
  if running "$port"; then say "port $port is taken by a Redis that is not this cluster's; set REDIS_CLUSTER_PORTS"; exit 1; fi
done
create
if ! wait_whole 60; then
  say "the cluster did not reach cluster_state:ok; logs are in $dir/<port>/redis.log"
  exit 1
fi
nodes_list
