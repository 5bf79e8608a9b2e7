#!/usr/bin/env bash
# Fuzz the JSON API from outside with schemathesis: start the real server on
# a fresh SQLite database, seed a little data through the API itself, and
# let schemathesis drive every operation of /api/openapi.json. Fails on any
# 5xx, any response that does not match its schema, and any status or
# content type the description does not list.
#
#   tests/schemathesis/run.sh            # builds target/debug/aixin if needed
#   AIXIN_BIN=path/to/aixin ST_MAX_EXAMPLES=50 tests/schemathesis/run.sh
#
# schemathesis (PyPI) is taken from PATH, or installed into a venv under
# target/ (SCHEMATHESIS_VENV to choose another place).
set -euo pipefail
cd "$(dirname "$0")/../.."

target_dir="${CARGO_TARGET_DIR:-target}"
bin="${AIXIN_BIN:-$target_dir/debug/aixin}"
if [ ! -x "$bin" ] || [ -z "${AIXIN_BIN:-}" ]; then
    echo "== cargo build (aixin)"
    cargo build --quiet --bin aixin
fi

st="$(command -v schemathesis || true)"
if [ -z "$st" ]; then
    venv="${SCHEMATHESIS_VENV:-$target_dir/schemathesis-venv}"
    if [ ! -x "$venv/bin/schemathesis" ]; then
        echo "== installing schemathesis into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet 'schemathesis>=4,<5'
    fi
    st="$venv/bin/schemathesis"
fi

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
admin_password="fuzz-admin-password"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== starting aixin on $base"
DATABASE_URL="sqlite://$work/aixin.db" \
AIXIN_BIND="127.0.0.1:$port" \
AIXIN_ADMIN_PASSWORD="$admin_password" \
AIXIN_DATA_KEY_FILE="$work/data.key" \
AIXIN_LOG_FORMAT=json \
    "$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -fsS "$base/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "$base/healthz" >/dev/null

# A JSON POST with the admin's token; prints the response body.
token=""
post() {
    curl -fsS -X POST "$base$1" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -H "Idempotency-Key: seed-$RANDOM$RANDOM" -d "$2"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

echo "== seeding through the API"
token="$(curl -fsS -X POST "$base/api/v1/tokens" -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$admin_password\"}" | field '["token"]')"
city="$(post /api/v1/areas '{"name":"测试市"}' | field '["id"]')"
district="$(post /api/v1/areas "{\"name\":\"测试区\",\"parent_id\":\"$city\"}" | field '["id"]')"
town="$(post /api/v1/areas "{\"name\":\"测试镇\",\"parent_id\":\"$district\"}" | field '["id"]')"
village="$(post /api/v1/areas "{\"name\":\"测试村\",\"parent_id\":\"$town\"}" | field '["id"]')"
store="$(post /api/v1/stores "{\"name\":\"测试超市\",\"area_id\":\"$town\"}" | field '["id"]')"
item="$(post /api/v1/items '{"name":"食用盐","unit":"袋","points_price":3}' | field '["id"]')"
rule="$(post /api/v1/rules '{"code":"FZ01","name":"打扫卫生","category":"cat-03","points":5}' | field '["id"]')"
household="$(post /api/v1/households "{\"head_name\":\"张三\",\"id_number\":\"11010519491231002X\",\"area_id\":\"$village\",\"members\":2}" | field '["id"]')"
post /api/v1/donations "{\"store_id\":\"$store\",\"donor\":{\"name\":\"测试公司\",\"kind\":\"enterprise\"},\"received_on\":\"$(date -u +%F)\",\"lines\":[{\"item_id\":\"$item\",\"quantity\":50}]}" >/dev/null
# A pending award, so that the decisions reach past "not found" to their
# required version (the admin proposed it: deciding it is refused, 422).
award="$(post /api/v1/awards "{\"household_id\":\"$household\",\"rule_id\":\"$rule\",\"occurred_on\":\"$(date -u +%F)\"}" | field '["awards"][0]["id"]')"
echo "   area $village, store $store, item $item, rule $rule, household $household, award $award"

# Point the {id} of a few operations at the seeded records, so that the
# fuzzer also reaches past "not found" into the domain's own checks.
cat >"$work/schemathesis.toml" <<TOML
[[operations]]
include-path-regex = "^/api/v1/households/\\\\{id\\\\}"
parameters = { "path.id" = "$household" }

[[operations]]
include-path = "/api/v1/stores/{id}/stock"
parameters = { "path.id" = "$store" }

[[operations]]
include-path-regex = "^/api/v1/awards/\\\\{id\\\\}/"
parameters = { "path.id" = "$award" }

[[operations]]
include-path = "/api/v1/areas/{id}"
parameters = { "path.id" = "$village" }
TOML

echo "== schemathesis $("$st" --version | awk '{print $NF}')"
status=0
"$st" --config-file "$work/schemathesis.toml" run "$base/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --max-examples "${ST_MAX_EXAMPLES:-25}" \
    --max-time "${ST_MAX_TIME:-240}" \
    --phases examples,coverage,fuzzing \
    --workers 1 \
    --seed "${ST_SEED:-20261129}" \
    --generation-database none \
    --no-color \
    || status=$?
if grep -q '"status":5' "$work/server.log"; then
    echo "== the server answered 5xx:"
    grep '"status":5' "$work/server.log" | tail -5
    status=1
fi
exit $status
