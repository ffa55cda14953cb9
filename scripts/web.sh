#!/usr/bin/env bash
# The web side: the operator console (web/console), the customers' H5 activity pages (web/h5),
# the Chromium end-to-end tests (web/e2e) and the npm SMSC the SMPP tests talk to
# (tests/smpp_peer). Each is its own npm package with a committed package-lock.json.
#   scripts/web.sh install   npm install (locked versions) where node_modules is missing or
#                            older than the lock
#   scripts/web.sh build     install, then build the console and the H5 pages into */dist
#   scripts/web.sh test      build, then every package's `npm test` (Vitest, then Chromium
#                            against build/ci's mercator unless MERCATOR_BIN says otherwise)
set -euo pipefail
cd "$(dirname "$0")/.."
cmd="${1:-build}"

packages=()
for dir in web/console web/h5 web/e2e tests/smpp_peer; do
  [[ -f "$dir/package.json" ]] && packages+=("$dir")
done

has_script() {  # has_script DIR NAME: package.json of DIR defines script NAME
  node -e 'process.exit(require(process.argv[1]).scripts?.[process.argv[2]] ? 0 : 1)' \
    "$PWD/$1/package.json" "$2"
}

install() {
  for dir in "${packages[@]}"; do
    local stamp="$dir/node_modules/.package-lock.json"
    if [[ ! -f "$stamp" || "$dir/package-lock.json" -nt "$stamp" ]]; then
      echo "web: installing the npm packages of $dir (versions from its package-lock.json)"
      # `npm install --no-save` rather than `npm ci`: the registry mirror has no packages for
      # other platforms (rollup's android/darwin/... builds), so the locks cannot list them and
      # npm 11's `npm ci` refuses such a lock; install takes the locked versions and never
      # rewrites the lock.
      (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error)
    fi
  done
}

build() {
  install
  for dir in web/console web/h5; do
    [[ -f "$dir/package.json" ]] || continue
    echo "web: building $dir"
    (cd "$dir" && npm run --silent build)
  done
}

case "$cmd" in
  install) install ;;
  build) build ;;
  test)
    build
    export MERCATOR_BIN="${MERCATOR_BIN:-$PWD/build/ci/src/cli/mercator}"
    for dir in "${packages[@]}"; do
      [[ "$dir" == tests/* ]] && continue  # used by the C++ tests, no tests of its own
      if has_script "$dir" test; then
        echo "web: testing $dir"
        (cd "$dir" && npm test)
      fi
    done
    ;;
  *) echo "usage: scripts/web.sh install|build|test" >&2; exit 2 ;;
esac
