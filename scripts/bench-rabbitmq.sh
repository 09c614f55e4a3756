#!/usr/bin/env bash
# A private RabbitMQ for make bench (issue 8, target 8): Debian's rabbitmq-server on 127.0.0.1,
# with its node, Erlang port mapper, data and logs all under DIR, and no plugins.
#   bench-rabbitmq.sh start DIR   starts it; DIR/port is the AMQP port once it is ready
#   bench-rabbitmq.sh rss DIR     the broker's resident memory in MB
#   bench-rabbitmq.sh stop DIR    stops the broker and its port mapper
set -euo pipefail
command=$1 dir=$2

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
environment() {
  export HOME=$dir RABBITMQ_HOME=/usr/lib/rabbitmq
  export RABBITMQ_NODENAME=taxhub-bench@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$(cat "$dir/port") RABBITMQ_DIST_PORT=$(cat "$dir/dist_port")
  export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$(cat "$dir/epmd_port")
  export RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log
  export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins RABBITMQ_PID_FILE=$dir/rabbit.pid
  export RABBITMQ_CONFIG_FILE=$dir/rabbitmq
  # Erlang distribution (the CLI's way in) on loopback only too.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

case $command in
  start)
    [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || { echo "rabbitmq-server is not installed"; exit 1; }
    mkdir -p "$dir/log"
    free_port > "$dir/port"; free_port > "$dir/dist_port"; free_port > "$dir/epmd_port"
    echo "[]." > "$dir/enabled_plugins"
    echo "log.console = false" > "$dir/rabbitmq.conf"
    environment
    /usr/lib/rabbitmq/bin/rabbitmq-server > "$dir/log/server.out" 2>&1 &
    server=$!
    if ! timeout 120 /usr/lib/rabbitmq/bin/rabbitmqctl wait --timeout 120 "$RABBITMQ_PID_FILE" > /dev/null 2>&1; then
      echo "RabbitMQ did not start: $(tail -3 "$dir/log/server.out")"
      kill "$server" 2>/dev/null || true
      [[ -f $RABBITMQ_PID_FILE ]] && kill "$(cat "$RABBITMQ_PID_FILE")" 2>/dev/null
      epmd -kill > /dev/null 2>&1 || true
      exit 1
    fi
    ;;
  rss)
    awk '/VmRSS/ {printf "%.0f\n", $2 / 1024}' "/proc/$(cat "$dir/rabbit.pid")/status"
    ;;
  stop)
    environment
    # With the pid file, stop waits until the node has exited; then the port mapper can go.
    timeout 60 /usr/lib/rabbitmq/bin/rabbitmqctl stop "$RABBITMQ_PID_FILE" > /dev/null 2>&1 ||
      kill "$(cat "$RABBITMQ_PID_FILE")" 2>/dev/null || true
    epmd -kill > /dev/null 2>&1 || true  # the one on ERL_EPMD_PORT
    ;;
esac
