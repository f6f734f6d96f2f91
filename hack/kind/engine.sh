#!/usr/bin/env bash
# Prints the usable container engine (docker or podman) or nothing. An engine is usable when
# its daemon answers, not merely when its client is installed.
for e in docker podman; do
  if command -v "$e" >/dev/null 2>&1 && timeout 10 "$e" info >/dev/null 2>&1; then
    echo "$e"; exit 0
  fi
done
exit 1
