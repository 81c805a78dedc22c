#!/usr/bin/env bash
# The ClickHouse side of kiseki's storage benchmarks, on the ClickHouse Debian ships (18.16):
# installs clickhouse-server from Debian if it is missing, starts a private server on 127.0.0.1
# (its own ports and a temporary data directory, removed on exit), creates the schema of
# clickhouse-schema.sql, loads the seeded export and measures insert rate, bytes per span,
# trace-by-id and search latency (clickhouse_bench.py).
#
#   scripts/bench/clickhouse.sh [--spans N] [--seed N] [--batch-rows N] [--results FILE]
#
# Defaults: 10 000 000 spans, seed 1, batches of 100 000 rows. Needs root for apt-get (or the
# packages installed) and python3. Prints the figures; --results also writes them as JSON.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
spans=10000000
seed=1
extra=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --spans) spans="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --batch-rows | --results | --lookups | --search-rounds) extra+=("$1" "$2"); shift 2 ;;
        *) echo "clickhouse.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

if [ ! -x /usr/sbin/clickhouse-server ]; then
    echo "clickhouse.sh: installing clickhouse-server from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends clickhouse-server clickhouse-client >/dev/null
fi

tsv="$("$here/export.sh" "$spans" "$seed")"
stats="${tsv%.tsv}.json"

work="$(mktemp -d "${TMPDIR:-/tmp}/kiseki-bench-clickhouse.XXXXXX")"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid"
        for _ in $(seq 1 60); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two free ports from 28123/29000 on: not ClickHouse's own (8123, 9000) nor kiseki's.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
http_port=28123
while ! port_free "$http_port"; do http_port=$((http_port + 1)); done
tcp_port=29000
while ! port_free "$tcp_port" || [ "$tcp_port" = "$http_port" ]; do tcp_port=$((tcp_port + 1)); done

mkdir -p "$work/data" "$work/tmp" "$work/user_files" "$work/log"
cat >"$work/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$work/log/server.log</log>
        <errorlog>$work/log/error.log</errorlog>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http_port</http_port>
    <tcp_port>$tcp_port</tcp_port>
    <path>$work/data/</path>
    <tmp_path>$work/tmp/</tmp_path>
    <user_files_path>$work/user_files/</user_files_path>
    <users_config>$work/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>1073741824</mark_cache_size>
    <!-- zstd for every part, large or small: the best ratio 18.16 offers (it has no codecs). -->
    <compression>
        <case>
            <min_part_size>0</min_part_size>
            <min_part_size_ratio>0</min_part_size_ratio>
            <method>zstd</method>
        </case>
    </compression>
</yandex>
XML
cat >"$work/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>8000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default></default></quotas>
</yandex>
XML

/usr/sbin/clickhouse-server --config-file="$work/config.xml" >"$work/log/stdout.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 60); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$http_port/ping', timeout=1)" 2>/dev/null; then
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/log/stdout.log" "$work/log/error.log" >&2 || true; exit 1; }
    sleep 0.5
done

python3 "$here/clickhouse_bench.py" --port "$http_port" --server-pid "$server_pid" \
    --data-dir "$work/data" --tsv "$tsv" --stats "$stats" \
    --schema "$here/clickhouse-schema.sql" "${extra[@]}"
