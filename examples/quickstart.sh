#!/usr/bin/env bash
# Set up patchcheck on a fresh Debian/Ubuntu machine and scan the bundled example.
#
#   1. apt packages from .ci/apt-packages.txt (memcached for the pymemcache probe, headers that
#      mysqlclient builds against) — with sudo unless already root; skipped without apt-get;
#   2. a virtualenv .venv with patchcheck installed in it;
#   3. `patchcheck scan examples/requirements.txt --install`: patchcheck builds its own cached,
#      isolated virtualenv with gevent and the example's libraries, and scans that.
#
# Servers: patchcheck starts Redis, memcached, PostgreSQL and MariaDB itself when their binaries
# are installed, and uses RabbitMQ (5672) and Mosquitto (1883) when they run on 127.0.0.1; a
# probe whose server is missing is reported as skipped, with the command that installs it.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive xargs -a .ci/apt-packages.txt $SUDO apt-get install -y -qq \
        --no-install-recommends >/dev/null
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q -e .
exec .venv/bin/patchcheck scan examples/requirements.txt --install "$@"
