#!/usr/bin/env bash
# Install what tests/runtimes needs: Debian's Chromium (for onnxruntime-web under Playwright)
# and the npm packages pinned in package-lock.json (onnxruntime-web, onnxruntime-node,
# playwright-core). Idempotent: a no-op apart from checks when both are already there.
# Runs as root, non-interactive. Playwright never downloads a browser: it drives /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "install_browser_deps: installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
fi

# onnxruntime-node's install script would download CUDA libraries; its CPU build ships
# in the package. Playwright must not fetch browsers either.
export ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
stamp=node_modules/.package-lock.json
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] \
  && [ -d node_modules/onnxruntime-web ] && [ -d node_modules/onnxruntime-node ] \
  && [ -d node_modules/playwright-core ]; then
  echo "install_browser_deps: node_modules up to date"
else
  echo "install_browser_deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
/usr/bin/chromium --version
node --version
