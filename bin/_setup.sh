# Shared by bin/run, bin/test and bin/demo: idempotent set-up of the venv and the local services.
# What it installs (README, "Two commands"): the packages of `pip install -e .[dev]` into .venv;
# with bin/test, when missing and running as root, Debian's postgresql, redis-server and chromium
# through apt_install, which never upgrades a package already installed.
# shellcheck shell=bash

apt_install() {
  # Installs the packages named and what they depend on, not what they only recommend, and
  # only if that upgrades nothing already installed (`apt-get install` upgrades dependencies
  # that need newer versions: chromium's recommends once pulled in a newer systemd).
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  apt-get update -qq >/dev/null 2>&1 || true
  local upgrades
  upgrades=$(apt-get install -s --no-upgrade --no-install-recommends "$@" 2>/dev/null | awk '/^Inst [^ ]+ \[/ {print $2}' | tr '\n' ' ')
  if [ -n "$upgrades" ]; then
    echo "   not installing $*: it would upgrade installed packages: $upgrades" >&2
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-upgrade --no-install-recommends "$@" >/dev/null 2>&1
}

setup_venv() {
  local python=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    "$python" -m venv .venv
  fi
  local stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
  if [ ! -f "$stamp" ]; then
    echo "== installing packages (pip install -e .[dev])"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e ".[dev]"
    touch "$stamp"
  fi
  mkdir -p var
}

postgres_up() {
  .venv/bin/python - <<'PY' >/dev/null 2>&1
import psycopg
psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=3).close()
PY
}

ensure_postgres() {
  postgres_up && return 0
  echo "== PostgreSQL is down: starting it"
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt_install postgresql || true
  fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 20); do postgres_up && return 0; sleep 0.5; done
  echo "   could not start PostgreSQL" >&2
  return 1
}

redis_up() {
  .venv/bin/python -c "import redis; redis.Redis(host='127.0.0.1', port=6379, socket_timeout=2).ping()" >/dev/null 2>&1
}

ensure_redis() {
  redis_up && return 0
  echo "== Redis is down: starting it"
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server || true
  fi
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 20); do redis_up && return 0; sleep 0.5; done
  echo "   could not start Redis" >&2
  return 1
}

chromium_up() {
  [ -x "${CHROMIUM:-/usr/bin/chromium}" ]
}

ensure_chromium() {
  # The admin's browser test drives Debian's chromium (no browser download exists here).
  chromium_up && return 0
  echo "== Chromium is missing: installing Debian's chromium"
  apt_install chromium || true
  chromium_up && return 0
  echo "   could not install Chromium" >&2
  return 1
}
