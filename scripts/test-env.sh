#!/usr/bin/env bash
# Prepare a fresh machine for the test suite: Debian packages, a Docker daemon, PostgreSQL
# and Redis. Idempotent: installs only what is missing, starts only what does not answer.
# Runs as root (the project's machines and CI do); prints what it did, one line a step.
set -euo pipefail

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static)
command -v pg_ctlcluster >/dev/null 2>&1 || need_pkgs+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
command -v tmux >/dev/null 2>&1 || need_pkgs+=(tmux)
command -v prometheus >/dev/null 2>&1 || need_pkgs+=(prometheus)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "test-env: installing ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  echo "test-env: starting dockerd (host networking only, no bridge)"
  setsid dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
    >/tmp/vextrus-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "test-env: dockerd did not come up:"; tail -20 /tmp/vextrus-dockerd.log; exit 1; }
fi

pg_version=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
# The readiness checklist reads query times from pg_stat_statements, which must be preloaded.
pg_conf=/etc/postgresql/$pg_version/main/conf.d/vextrus-tests.conf
if [ -d "$(dirname "$pg_conf")" ] && [ ! -f "$pg_conf" ]; then
  echo "shared_preload_libraries = 'pg_stat_statements'" > "$pg_conf"
fi
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && \
   ! su postgres -c "psql -X -q -t -c 'SHOW shared_preload_libraries'" | grep -q pg_stat_statements; then
  echo "test-env: restarting PostgreSQL $pg_version with pg_stat_statements"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main restart
  for _ in $(seq 1 40); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.25; done
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "test-env: starting PostgreSQL $pg_version"
  pg_lsclusters -h 2>/dev/null | grep -q "^$pg_version main" || pg_createcluster "$pg_version" main >/dev/null
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
  for _ in $(seq 1 40); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.25; done
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "test-env: starting redis-server"
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" >/dev/null
  for _ in $(seq 1 40); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.25; done
fi
echo "test-env: docker, postgresql and redis answer"
