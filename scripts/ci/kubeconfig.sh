#!/usr/bin/env bash
# Writes the kubeconfig given in KUBECONFIG_DATA (the file's text, or its base64) to a private
# file and points later workflow steps at it. Locally, use your own kubectl context instead.
set -euo pipefail
if [[ -z "${KUBECONFIG_DATA:-}" ]]; then
  echo "KUBECONFIG_DATA is empty: set the KUBECONFIG secret on this environment" >&2
  exit 2
fi
file="${RUNNER_TEMP:-$(mktemp -d)}/kubeconfig"
umask 077
if grep -q '^apiVersion:' <<<"$KUBECONFIG_DATA"; then
  printf '%s\n' "$KUBECONFIG_DATA" >"$file"
else
  base64 --decode <<<"$KUBECONFIG_DATA" >"$file"
fi
if [[ -n "${GITHUB_ENV:-}" ]]; then
  echo "KUBECONFIG=$file" >>"$GITHUB_ENV"
fi
KUBECONFIG="$file" kubectl config current-context
