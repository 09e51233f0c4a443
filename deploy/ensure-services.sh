#!/usr/bin/env bash
# Start what the tests need if it is down; safe to run repeatedly.
set -euo pipefail

if ! timeout 20 rabbitmqctl -q status >/dev/null 2>&1; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached || true
fi
timeout 120 rabbitmqctl -q await_startup
# the operator console reads queue figures from the management API (idempotent; online)
rabbitmq-plugins -q is_enabled rabbitmq_management >/dev/null 2>&1 \
  || rabbitmq-plugins -q enable rabbitmq_management >/dev/null

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
fi
pg_isready -h 127.0.0.1 -p 5432

if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  echo "installing Chromium and its driver for the browser tests"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null
fi
