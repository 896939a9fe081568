#!/usr/bin/env bash
# Runtime figures: binary and zip size (lambda profile), process start to
# ready, handler latency without DynamoDB and the model, memory.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}"
cargo build --quiet -p chat-runtime --profile lambda
binary="$CARGO_TARGET_DIR/lambda/chat-runtime"
work=$(mktemp -d)
start_moto
trap 'stop_moto; rm -rf "$work"' EXIT
cp "$binary" "$work/bootstrap"
(cd "$work" && python3 -c "import zipfile; z = zipfile.ZipFile('function.zip', 'w', zipfile.ZIP_DEFLATED, compresslevel=9); z.write('bootstrap'); z.close()")
echo "binary: $(stat -c %s "$binary") bytes; zip: $(stat -c %s "$work/function.zip") bytes; newest glibc symbol: $(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1)"

python3 - <<'PY'
import boto3
boto3.client("dynamodb").create_table(TableName="bench", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "ip", "AttributeType": "S"}, {"AttributeName": "window_start", "AttributeType": "N"}],
    KeySchema=[{"AttributeName": "ip", "KeyType": "HASH"}, {"AttributeName": "window_start", "KeyType": "RANGE"}])
PY
python3 - "$binary" <<'PY'
import os, socket, statistics, subprocess, sys, time, urllib.request
binary = sys.argv[1]
env = dict(os.environ, RATE_LIMIT_TABLE="bench", RATE_LIMIT_MAX_REQUESTS="1000000")
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
times = []
for _ in range(20):
    port = free_port()
    started = time.perf_counter()
    p = subprocess.Popen([binary, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read(); break
        except Exception:
            time.sleep(0.001)
    times.append((time.perf_counter() - started) * 1000)
    p.kill(); p.wait()
times.sort()
print(f"start to ready (spawn to first /health answer, includes the warm-up GetItem on moto): median {statistics.median(times):.1f} ms, max {times[-1]:.1f} ms over {len(times)} starts")
port = free_port()
p = subprocess.Popen([binary, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while True:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read(); break
    except Exception:
        time.sleep(0.005)
for i in range(300):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/health")
    urllib.request.urlopen(req).read()
with open(f"/proc/{p.pid}/status") as f:
    rss = [l for l in f if l.startswith(("VmHWM", "VmRSS"))]
print("memory after start and 300 requests:", ", ".join(l.split(":")[0] + " " + l.split(":")[1].strip() for l in rss))
p.kill(); p.wait()
PY
cargo bench --quiet -p chat-runtime --bench handler 2>/dev/null | grep -v '^$'
