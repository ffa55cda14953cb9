#!/usr/bin/env bash
# The one run command: installs what is missing, builds in Release and the web apps, generates
# a demo bank on first run and starts `mercator serve` on 127.0.0.1:8080 with the SQLite data
# directory; the operator console is at /console/.
#   scripts/run.sh [--customers N] [--data DIR] [--port P]
set -euo pipefail
cd "$(dirname "$0")/.."

customers=100000
data=./data
port=8080
while [[ $# -gt 0 ]]; do
  case "$1" in
    --customers) customers="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    *) echo "usage: scripts/run.sh [--customers N] [--data DIR] [--port P]" >&2; exit 2 ;;
  esac
done

bash scripts/build.sh release mercator
bash scripts/web.sh build  # the operator console and the H5 pages, served by mercator serve
bin=build/release/src/cli/mercator

# The admin's one-time password is printed once, as "password: ..." (only its argon2id hash is
# stored): the first run creates the admin with the demo bank, later runs give it a new one.
credential=$(mktemp)
trap 'rm -f "$credential"' EXIT
if [[ ! -f "$data/mercator.db" ]]; then
  echo "run: generating a demo bank of $customers customers in $data"
  "$bin" --data "$data" demo --customers "$customers" | tee "$credential"
else
  echo "run: $data exists; giving the admin a new one-time password (the previous one stops working)"
  if ! "$bin" --data "$data" user reset-password admin | tee "$credential"; then
    "$bin" --data "$data" init | tee "$credential"  # a data directory without staff accounts
  fi
fi
password=$(sed -n 's/^ *password: //p' "$credential")
rm -f "$credential"  # exec below skips the EXIT trap
base="http://127.0.0.1:$port"
# Session cookies are Secure; curl and current browsers keep them for http://127.0.0.1 too.
cat <<EOF

run: the operator console is at $base/console/ (user admin, the password above).

run: sign in as admin, keep the session cookie in a jar, and send the CSRF token on writes:
  csrf=\$(curl -s -c mct.jar -H 'Content-Type: application/json' \\
    -d '{"username":"admin","password":"$password"}' $base/v1/auth/login |
    sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p')
  curl -s -b mct.jar $base/v1/tags
  curl -s -b mct.jar -H "X-CSRF-Token: \$csrf" -H 'Content-Type: application/json' \\
    -d '{"rule": "age between 25 and 35 and province in (\"浙江\",\"上海\") and has(products, \"wealth\") and not lifecycle = \"churned\" and aum >= 50000"}' \\
    $base/v1/segments/count
  The password is for one use: change it with POST /v1/auth/password
  {"current_password": "...", "new_password": "..."} (send X-CSRF-Token too).
EOF
exec "$bin" --data "$data" serve --address 127.0.0.1 --port "$port" --web-root web
