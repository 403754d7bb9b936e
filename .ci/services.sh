#!/usr/bin/env bash
# Installs and starts the servers the tests need, from Debian's packages,
# and exports the variables that point the tests at them. Sourced by
# .ci/run; safe to run again on a machine where they already run.
set -euo pipefail

apt_updated=""
install() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL: the newest installed cluster, with a `treaty` superuser and
# database.
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  install postgresql
fi
pg_version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$pg_version main"; then
  pg_createcluster "$pg_version" main >/dev/null
fi
pg_ctlcluster "$pg_version" main start 2>/dev/null || pg_ctlcluster "$pg_version" main status >/dev/null
for _ in $(seq 1 30); do
  su postgres -c "pg_isready -q" && break
  sleep 1
done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'treaty'\"" | grep -qx 1 \
  || su postgres -c "psql -qc \"CREATE USER treaty WITH PASSWORD 'treaty' SUPERUSER\""
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname = 'treaty'\"" | grep -qx 1 \
  || su postgres -c "psql -qc \"CREATE DATABASE treaty OWNER treaty\""
export TREATY_TEST_POSTGRES="postgres://treaty:treaty@127.0.0.1:5432/treaty"

# RabbitMQ: Debian's server, started detached since CI containers run no
# init system (as PostgreSQL above is started by pg_ctlcluster). The
# Debian wrappers run the server and rabbitmqctl as the `rabbitmq` user.
if ! command -v rabbitmq-server >/dev/null 2>&1; then
  install rabbitmq-server
fi
if ! rabbitmqctl -q ping >/dev/null 2>&1; then
  # The package's postinst may have started it already; when it did not,
  # start it here. `-detached` returns before the node runs.
  rabbitmq-server -detached >/dev/null 2>&1 || true
fi
for _ in $(seq 1 60); do
  rabbitmqctl -q ping >/dev/null 2>&1 && break
  sleep 1
done
# A restart test interrupted between stop_app and start_app leaves the
# node up with RabbitMQ stopped; start_app starts it again, and does
# nothing when it runs or is starting.
rabbitmqctl -q start_app >/dev/null
rabbitmqctl -q await_startup --timeout 120 >/dev/null
export TREATY_TEST_AMQP="amqp://guest:guest@127.0.0.1:5672/%2f"
# How the AMQP tests restart the broker mid-run: stopping and starting the
# RabbitMQ application closes every connection and keeps durable queues
# and persistent messages, as a restart of the server does, in seconds.
export TREATY_TEST_AMQP_RESTART="rabbitmqctl -q stop_app && rabbitmqctl -q start_app && rabbitmqctl -q await_startup"
