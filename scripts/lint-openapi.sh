#!/usr/bin/env bash
# Lints the API document (internal/httpapi/openapi.yaml, or the file named
# by the first argument) with Redocly CLI's
# `recommended` rules and Spectral's `spectral:oas`, and fails on any error
# or warning of either. Both tools are npm packages at pinned versions,
# installed once into a directory outside the repository (APILINT_DIR,
# default ~/.cache/accounts-apilint); they need the npm registry to install
# and nothing from the network to run.
set -euo pipefail

cd "$(dirname "$0")/.."

REDOCLY_VERSION=2.77.0
SPECTRAL_VERSION=6.16.3
dir=${APILINT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/accounts-apilint}
spec=${1:-internal/httpapi/openapi.yaml}

installed() {
  [ -x "$dir/node_modules/.bin/redocly" ] && [ -x "$dir/node_modules/.bin/spectral" ] &&
    [ "$(cat "$dir/versions" 2>/dev/null)" = "$REDOCLY_VERSION $SPECTRAL_VERSION" ]
}

if ! installed; then
  echo "installing @redocly/cli@$REDOCLY_VERSION and @stoplight/spectral-cli@$SPECTRAL_VERSION into $dir"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error \
    "@redocly/cli@$REDOCLY_VERSION" "@stoplight/spectral-cli@$SPECTRAL_VERSION"
  echo "$REDOCLY_VERSION $SPECTRAL_VERSION" > "$dir/versions"
fi

# No telemetry and no update check: the lint must not need the network.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

echo "Redocly CLI $REDOCLY_VERSION, rules: recommended"
status=0
report=$(mktemp --suffix=.json)
trap 'rm -f "$report"' EXIT
"$dir/node_modules/.bin/redocly" lint --extends=recommended --format=json "$spec" >"$report" 2>/dev/null || true
if totals=$(node -e '
  const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).totals;
  console.log(`${t.errors} errors, ${t.warnings} warnings`);
  process.exit(t.errors + t.warnings === 0 ? 0 : 1);' "$report"); then
  echo "ok: $totals"
else
  "$dir/node_modules/.bin/redocly" lint --extends=recommended --format=codeframe "$spec" 2>&1 | grep -v '^ *[║╔╚]' || true
  echo "Redocly: ${totals:-no report}"
  status=1
fi

echo "Spectral $SPECTRAL_VERSION, ruleset: spectral:oas"
ruleset=$(mktemp --suffix=.yaml)
trap 'rm -f "$report" "$ruleset"' EXIT
echo 'extends: ["spectral:oas"]' > "$ruleset"
if "$dir/node_modules/.bin/spectral" lint --ruleset "$ruleset" --fail-severity=hint --display-only-failures "$spec"; then
  echo "ok: no errors, no warnings"
else
  echo "Spectral reports problems in $spec (above)"
  status=1
fi
exit $status
