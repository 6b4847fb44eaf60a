#!/usr/bin/env bash
# Runs ansible-test sanity on a copy of the working tree placed under
# ansible_collections/srvlab/rds, where ansible-test requires a collection to be.
# Usage: ansible-sanity.sh VENV_BIN_DIR
set -euo pipefail
bin=$(cd "$1" && pwd)
shift
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
# ansible-test bootstraps pip in each sanity venv with a script it downloads from outside the
# package registries; an offline stand-in is placed where it looks for its cached copy.
pip_version=$("$bin/python" - <<'PY'
from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(SimpleNamespace(version="")).get("pip", ""))
PY
)
mkdir -p ~/.ansible/test/cache
cp "$root/scripts/offline_get_pip.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
"$bin/python" -c 'import json, os, sys
keep = {k: v for k, v in os.environ.items() if k.startswith("PIP_") or k in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")}
json.dump(keep, sys.stdout)' > ~/.ansible/test/cache/offline_get_pip_env.json
dest="$work/ansible_collections/srvlab/rds"
mkdir -p "$dest"
cd "$root"
git ls-files --cached --others --exclude-standard -z | xargs -0 cp --parents -t "$dest" 2>/dev/null || true
cd "$dest"
git init -q && git add -A && git -c user.email=ci@localhost -c user.name=ci commit -qm snapshot
PATH="$bin:$PATH" "$bin/ansible-test" sanity --python "$("$bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    --requirements --color no "$@"
