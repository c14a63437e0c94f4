#!/usr/bin/env bash
# Smoke test of a running platform: scripts/ci/smoke.sh BASE_URL (see scripts/ci/smoke.ts for
# the SMOKE_* settings). Needs the repository's dev dependencies (tsx) installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node --import tsx scripts/ci/smoke.ts "$@"
