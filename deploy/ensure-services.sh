#!/usr/bin/env bash
# Start what Lotse needs if it is down; safe to run repeatedly. Every command has a time limit,
# so a wedged server fails this script within minutes, naming what hung.
#   deploy/ensure-services.sh            RabbitMQ, PostgreSQL and the test tools (make test)
#   deploy/ensure-services.sh --runtime  RabbitMQ and PostgreSQL only (make stack, make bench)
set -euo pipefail

runtime_only=false
[[ "${1:-}" == "--runtime" ]] && runtime_only=true

fail() { echo "ensure-services: $*" >&2; exit 1; }
# `limit SECONDS WHAT COMMAND...`: run COMMAND, or fail naming WHAT after SECONDS
limit() {
  local seconds=$1 what=$2; shift 2
  local status=0
  timeout --kill-after=10 "$seconds" "$@" || status=$?
  if [[ $status -eq 124 || $status -eq 137 ]]; then
    fail "$what did not finish within ${seconds}s (is the server wedged?)"
  fi
  return "$status"
}

# --- RabbitMQ (127.0.0.1:5672, guest/guest) -------------------------------------------------
if ! timeout 20 rabbitmqctl -q status >/dev/null 2>&1; then
  echo "starting RabbitMQ"
  limit 60 "rabbitmq-server -detached" rabbitmq-server -detached || true
fi
limit 120 "RabbitMQ's start-up (rabbitmqctl await_startup)" rabbitmqctl -q await_startup \
  || fail "RabbitMQ did not start"
# the operator console reads queue figures from the management API (idempotent; online)
limit 60 "rabbitmq-plugins is_enabled" rabbitmq-plugins -q is_enabled rabbitmq_management \
  >/dev/null 2>&1 \
  || limit 120 "rabbitmq-plugins enable rabbitmq_management" \
       rabbitmq-plugins -q enable rabbitmq_management >/dev/null

# --- PostgreSQL (127.0.0.1:5432, user postgres, trust) ----------------------------------------
if ! pg_isready -q -t 5 -h 127.0.0.1 -p 5432; then
  echo "starting PostgreSQL"
  limit 60 "pg_ctlcluster start" pg_ctlcluster --skip-systemctl-redirect \
    "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 60); do pg_isready -q -t 2 -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
fi
pg_isready -t 5 -h 127.0.0.1 -p 5432 || fail "PostgreSQL does not answer on 127.0.0.1:5432"
limit 20 "psql" psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1" >/dev/null 2>&1 \
  || fail "PostgreSQL refuses user postgres from 127.0.0.1 without a password: the tests need
  'host all postgres 127.0.0.1/32 trust' in pg_hba.conf (or a ~/.pgpass for postgres)"
# the tests' scratch databases are created from the `test` database's server; make sure it is there
limit 20 "psql" psql -h 127.0.0.1 -U postgres -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
  || limit 30 "CREATE DATABASE test" psql -q -h 127.0.0.1 -U postgres -d postgres \
       -c "CREATE DATABASE test" >/dev/null

$runtime_only && exit 0

# --- test tools: kubectl renders the Kubernetes manifests (comes with this machine's image) ---
command -v kubectl >/dev/null 2>&1 || echo "ensure-services: kubectl is missing: the manifest
  tests (tests/unit/test_k8s_manifests.py) need kubectl >= 1.27 with kustomize v5" >&2

# --- test tools: Chromium and its driver (browser tests) ---------------------------------------
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  echo "installing Chromium and its driver for the browser tests"
  limit 300 "apt-get update" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive limit 900 "apt-get install chromium chromium-driver" \
    apt-get install -y -q chromium chromium-driver >/dev/null
fi

# --- test tools: axe-core (npm) checks every page's accessibility in Chromium ----------------
axe_dir="$(dirname "$0")/../tests/e2e/axe"
if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "installing axe-core (npm) for the accessibility tests"
    (cd "$axe_dir" && limit 300 "npm ci axe-core" npm ci --no-audit --no-fund --loglevel=error \
       >/dev/null)
  else
    echo "ensure-services: npm is missing: the accessibility tests need axe-core" >&2
  fi
fi

# --- test tools: promtool (Debian's prometheus package) checks the alert rules ------------------
if ! command -v promtool >/dev/null 2>&1; then
  echo "installing promtool (Debian package prometheus) for the alert rule tests"
  limit 300 "apt-get update" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive limit 600 "apt-get install prometheus" \
    apt-get install -y -q --no-install-recommends prometheus >/dev/null
  # only its tools are wanted: a daemon the package may have started is stopped again
  { systemctl disable --now prometheus || service prometheus stop; } >/dev/null 2>&1 || true
fi
