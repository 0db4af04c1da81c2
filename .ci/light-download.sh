#!/usr/bin/env bash
# The README's main command on a fresh clone with empty Maven folders (no local repository, no
# wrapper distribution) must download at most 40 MB in all: Maven itself, the plugins and the
# CLI's dependencies, and never libtorch. Needs the network to Maven Central (CI has it).
# Prints the figure the README quotes. Usage: .ci/light-download.sh [LIMIT_BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-40000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$PWD" "$work/clone"
cmd=(./torchbridge inspect)
ok=0
for attempt in 1 2; do  # one retry: a network hiccup is not a finding
  rm -rf "$work/m2" "$work/mvnhome"
  if (cd "$work/clone" && MAVEN_USER_HOME="$work/mvnhome" MAVEN_ARGS="-Dmaven.repo.local=$work/m2" \
      TORCHBRIDGE_CDS=0 "${cmd[@]}" > "$work/out.log" 2>&1); then
    ok=1
    break
  fi
  echo "attempt $attempt failed:" >&2
  tail -20 "$work/out.log" >&2
done
[ "$ok" = 1 ] || { echo "the README's main command failed on a fresh clone" >&2; exit 1; }
repo=$(du -sb "$work/m2" | cut -f1)
dist=$(du -sb "$work/mvnhome" | cut -f1)
total=$((repo + dist))
echo "fresh clone, empty Maven folders, ${cmd[*]}: Maven repository $repo B + wrapper's Maven $dist B = $total B"
if find "$work/m2" -path '*bytedeco*' | grep -q .; then
  echo "libtorch (org.bytedeco) was downloaded by the light CLI's build" >&2
  exit 1
fi
if [ "$total" -gt "$limit" ]; then
  echo "over the limit of $limit B; the largest downloads:" >&2
  find "$work/m2" -type f -printf '%s %P\n' | sort -rn | head -20 >&2
  exit 1
fi
