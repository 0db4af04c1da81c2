#!/usr/bin/env bash
# Reproducible build: two clean builds of the same sources must give byte-identical jars (the
# library jars, their sources and javadoc jars, the CLI's shaded jar and the demo's). The POM pins
# every jar entry's time (project.build.outputTimestamp); this catches whatever else creeps in (a
# build time in a resource, an unordered listing, a javadoc date).
# Usage: .ci/reproducible.sh [extra Maven options, e.g. -o]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for run in 1 2; do
  ./mvnw -B -q "$@" clean package -DskipTests
  find . -path ./.git -prune -o -path '*/target/*.jar' -print | sort | xargs sha256sum > "$out/run$run.sha256"
done
echo "$(wc -l < "$out/run1.sha256") jars built twice"
if ! diff -u "$out/run1.sha256" "$out/run2.sha256"; then
  echo "the build is not reproducible: the jars above differ between two builds" >&2
  exit 1
fi
echo "reproducible: every jar identical"
