#!/usr/bin/env bash
# Regenerates requirements.lock (run it as `make lock`; `make lock UPGRADE=1` moves every pin to
# the newest release that fits). The lock pins every package, direct and transitive, with its
# hashes, for CPython 3.11 on linux x86_64, so that a virtualenv made today and one made next
# year hold the same files: the Makefile installs it with `pip install --no-deps --require-hashes`.
#
# Two parts: pip-compile resolves pyproject.toml's dependencies, its [test,ray] extras and
# requirements.in; the packages of requirements-nodeps.txt, whose declared pins conflict with
# current torch, are appended as they are, pinned and hashed but never resolved.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
PIP_TOOLS="pip-tools==7.7.0"
LOCK=requirements.lock

"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "the lock is for Python 3.11"'
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q "$PIP_TOOLS"

# 1. Resolve. pip-compile keeps the pins of an existing lock unless told to upgrade, so a lock
#    made after an edit of pyproject.toml moves only what the edit needs.
[ -f "$LOCK" ] && cp "$LOCK" "$tmp/lock.txt"
CUSTOM_COMPILE_COMMAND="make lock" "$tmp/venv/bin/pip-compile" -q ${UPGRADE:+--upgrade} \
    --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
    --extra test --extra ray --output-file "$tmp/lock.txt" pyproject.toml requirements.in

# 2. Append requirements-nodeps.txt's packages with the hash of the file pip picks for this
#    platform, without their dependencies.
echo "" >>"$tmp/lock.txt"
echo "# From requirements-nodeps.txt: declared pins conflict, so never resolved" >>"$tmp/lock.txt"
grep -oE '^[A-Za-z0-9._-]+==[^ #]+' requirements-nodeps.txt | while read -r pin; do
    "$tmp/venv/bin/pip" download -q --no-deps --dest "$tmp/nodeps/$pin" "$pin"
    files=("$tmp/nodeps/$pin"/*)
    [ "${#files[@]}" -eq 1 ] || { echo "lock.sh: $pin: expected one file" >&2; exit 1; }
    echo "$pin \\" >>"$tmp/lock.txt"
    echo "    --hash=sha256:$(sha256sum "${files[0]}" | cut -d' ' -f1)" >>"$tmp/lock.txt"
    echo "    # via requirements-nodeps.txt" >>"$tmp/lock.txt"
done
mv "$tmp/lock.txt" "$LOCK"
echo "==> wrote $LOCK ($(grep -c '^[A-Za-z0-9]' "$LOCK") packages)"
