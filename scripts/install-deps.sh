#!/usr/bin/env bash
# Installs the Debian 12 packages that taxhub's build, tests and demo need; with `bench`, also
# what make bench compares taxhub with (RabbitMQ and its C client); with `fuzz`, clang and
# libFuzzer for make fuzz.
# Idempotent: when every package is already installed it does not touch apt at all;
# otherwise it runs `apt-get update` once and installs only what is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache
  libzmq3-dev cppzmq-dev
  libthrift-dev thrift-compiler
  libpqxx-dev libpq-dev postgresql
  libsqlite3-dev sqlite3
  libpoco-dev libyaml-cpp-dev libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev libboost-dev
  libgoogle-perftools-dev
  python3 python3-zmq python3-thrift
  kannel kannel-extras
  chromium fonts-wqy-zenhei python3-websocket
)
if [[ ${1:-} == bench ]]; then packages+=(rabbitmq-server librabbitmq-dev); fi
if [[ ${1:-} == fuzz ]]; then packages+=(clang-14 libclang-rt-14-dev); fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Packages with a service (PostgreSQL, RabbitMQ) must not start it: the tests and benchmarks run
# their own servers on 127.0.0.1. A policy-rc.d that denies starts is put in place for the
# install if there is none.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT  # however the install ends
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d > /dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
