# Sourced by the other scripts: installs moto if missing, starts and stops
# one on a free loopback port, and the steps the seed systems' scripts share.

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# Sets $cairn: $CAIRN_BIN when set (the test that runs a script gives the
# cairn it was built with), else a debug build.
use_cairn() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}"
  if [ -n "${CAIRN_BIN:-}" ]; then
    cairn=$CAIRN_BIN
  else
    step "building cairn"
    cargo build --quiet --bin cairn
    cairn="$CARGO_TARGET_DIR/debug/cairn"
  fi
}

# run ARGS...: shows and runs cairn, on the script's $state_dir when it
# has one. expect CODE ARGS...: the same, and the exit code must be CODE.
run() { echo "\$ cairn $*"; "$cairn" ${state_dir:+--state-dir "$state_dir"} "$@"; }
expect() {
  local want=$1; shift
  set +e; run "$@"; local code=$?; set -e
  [ "$code" = "$want" ] || { echo "expected exit code $want, got $code"; exit 1; }
}

ensure_moto() {
  if ! command -v moto_server >/dev/null 2>&1; then
    echo "==> installing moto (the local AWS emulator) from PyPI"
    python3 -m pip install --quiet "moto[server]>=5.2,<5.3"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_moto() {
  MOTO_PORT=$(free_port)
  moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"${MOTO_LOG:-/dev/null}" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/')" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  echo "==> moto listening on $AWS_ENDPOINT_URL (pid $MOTO_PID)"
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
    echo "==> moto stopped"
  fi
}

# Builds cairn for the benchmarks and sets $cairn: a release build, or the
# debug build the tests use with CAIRN_BENCH_PROFILE=dev.
build_cairn() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}"
  local profile=${CAIRN_BENCH_PROFILE:-release}
  cargo build --quiet --profile "$profile" --bin cairn
  cairn="$CARGO_TARGET_DIR/$( [ "$profile" = dev ] && echo debug || echo release )/cairn"
}
