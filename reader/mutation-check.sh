#!/usr/bin/env bash
# Proves that every safety check of the reader is tested: for each check, the check is removed
# (a mutant), the reader's tests run, and at least one of them must fail. A check that can be
# removed with every test still green is a check nobody would notice losing.
#
# A safety check is marked in the main sources with a trailing comment `// safety: NAME`, on
#   - the line of an `if (...) {` whose condition detects the violation: the mutant makes the
#     condition false (`if (false && (...)) {`), so the throw never happens;
#   - or the declaration line of a void method that only checks (`void requireX(...) ... {`): the
#     mutant returns at once.
#
# Speed: each mutant compiles only the file it changed (the compiler plugin's stale-file mode),
# and runs first the test class that killed it last time (reader/mutation-killers.tsv, rewritten
# by every full run); only if that class passes does the whole suite run. A failing subset is
# proof enough: the mutant is killed if any test fails.
#
# Usage: reader/mutation-check.sh [NAME...]   (default: every marked check)
# Prints one line per check (killed by which test, or SURVIVED) and 'N passed, N failed'; exits 1
# if any mutant survived or a marker is malformed. Restores every file it touched, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
src=reader/src/main/java
mapfile -t markers < <(grep -rn --include='*.java' -E '// safety: [A-Za-z0-9_.-]+\s*$' "$src" | sort)
if [ ${#markers[@]} = 0 ]; then
  echo "mutation-check: no '// safety: NAME' markers under $src" >&2
  exit 2
fi
backup=$(mktemp -d)
trap 'for f in "$backup"/*.orig; do [ -e "$f" ] || continue; cp "$f" "$(cat "${f%.orig}.path")"; done; rm -rf "$backup"' EXIT

# Build once so each mutant compiles only what changed.
./mvnw -B -o -q -pl reader -DskipTests test-compile >/dev/null

killers=reader/mutation-killers.tsv
declare -A killer_of=()
if [ -f "$killers" ]; then
  while IFS=$'\t' read -r k v; do [ -n "$k" ] && killer_of[$k]=$v; done < "$killers"
fi
declare -A found=()
# The test class (of a method or a dynamic test) that killed NAME, for the next run to try first.
record() {
  local cls
  cls=$(sed -E 's/^([A-Za-z0-9_$.]*\.[A-Z][A-Za-z0-9_$]*)[.:(].*/\1/' <<<"$2")
  if [[ "$cls" =~ ^[A-Za-z0-9_.$]+$ ]]; then found[$1]=${cls##*.}; fi
}
# The reader's test classes for a check's concept (its name's first word), ErrorKindTest always.
guess() {
  case "${1%%-*}" in
    legacy) echo LegacyStreamTest,ErrorKindTest ;;
    tar) echo LegacyTarTest,ErrorKindTest ;;
    torchscript|v1|json) echo TorchScriptTest,TorchScriptV1Test,ErrorKindTest ;;
    qtensor|sparse|nested|packed) echo QSparseTest,ErrorKindTest ;;
    zip|zip64) echo ZipIndexTest,ZipInvariantsTest,ZipLimitsTest,ErrorKindTest ;;
    pickle|operand) echo OpcodeTest,ErrorKindTest ;;
    npy|npz) echo NpyTest,ErrorKindTest ;;
    shard) echo ShardsTest,ErrorKindTest ;;
    st) echo SafetensorsTest,ErrorKindTest ;;
    *) echo ErrorKindTest,RefusedTensorTreeTest ;;
  esac
}
# stale-file compilation: only the mutated source is recompiled (useIncrementalCompilation=false
# means exactly that in maven-compiler-plugin 3.x)
mvn_test=(./mvnw -B -o -pl reader test -Dmaven.compiler.useIncrementalCompilation=false -Dsurefire.printSummary=true)

passed=0 failed=0 n=0
for m in "${markers[@]}"; do
  file=${m%%:*}; rest=${m#*:}; line=${rest%%:*}; text=${rest#*:}
  name=$(sed -E 's#.*// safety: ([A-Za-z0-9_.-]+)\s*$#\1#' <<<"$text")
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qxF "$name"; then continue; fi
  n=$((n + 1))
  cp "$file" "$backup/$n.orig"; echo "$file" > "$backup/$n.path"
  if grep -qE '^\s*(if|\} else if) \(.*\) \{\s*// safety:' <<<"$text"; then
    # the first 'if (' on the line; its condition ends at the last ') {'
    sed -i -E "${line}s/if \((.*)\) \{(\s*\/\/ safety:)/if (false \&\& (\1)) {\2/" "$file"
  elif grep -qE '\bvoid [A-Za-z0-9_]+\(.*\{\s*// safety:' <<<"$text"; then
    sed -i -E "${line}s/\{(\s*\/\/ safety:)/{ if (true) return;\1/" "$file"
  else
    echo "MALFORMED $name at $file:$line (neither 'if (...) {' nor a void method declaration)"
    failed=$((failed + 1)); cp "$backup/$n.orig" "$file"; continue
  fi
  if cmp -s "$file" "$backup/$n.orig"; then
    echo "MALFORMED $name at $file:$line (the mutation did not apply)"
    failed=$((failed + 1)); continue
  fi
  log="$backup/$n.log"
  # The last killer first (or, for a check never run, the test classes of its concept): if one of
  # them fails, the mutant is killed without the rest of the suite.
  first=${killer_of[$name]:-$(guess "$name")}
  if ! "${mvn_test[@]}" -Dtest="$first" -Dsurefire.failIfNoSpecifiedTests=false >"$log" 2>&1 \
      && ! grep -q 'COMPILATION ERROR' "$log" \
      && grep -aqE '^\[ERROR\] +Tests run:.*(Failures: [1-9]|Errors: [1-9])' "$log"; then
    killer=$(grep -aE '^\[ERROR\] +[A-Za-z0-9_$.]+[.:]' "$log" | grep -avE 'Tests run|Failures:|Errors:' | head -1 \
      | sed -E 's/^\[ERROR\] +//; s/ .*//' || true)
    echo "killed   $name by ${killer:-$first}"
    record "$name" "${killer:-}"
    passed=$((passed + 1))
    cp "$backup/$n.orig" "$file"
    continue
  fi
  # One failing test kills the mutant: surefire stops at the first (a killed mutant then costs a
  # fraction of the suite; a surviving one still runs it all).
  if "${mvn_test[@]}" -Dsurefire.skipAfterFailureCount=1 >"$log" 2>&1; then
    echo "SURVIVED $name ($file:$line): every reader test passes without this check"
    failed=$((failed + 1))
  elif grep -q 'COMPILATION ERROR' "$log"; then
    echo "MALFORMED $name at $file:$line (the mutant does not compile)"
    failed=$((failed + 1))
  else
    killer=$(grep -aE '^\[ERROR\] +[A-Za-z0-9_$.]+[.:]' "$log" | grep -avE 'Tests run|Failures:|Errors:' | head -1 \
      | sed -E 's/^\[ERROR\] +//; s/ .*//' || true) # (head closes the pipe early: not a failure)
    echo "killed   $name by ${killer:-a failing test}"
    record "$name" "${killer:-}"
    passed=$((passed + 1))
  fi
  cp "$backup/$n.orig" "$file"
done
if [ $# = 0 ]; then # a full run: remember each mutant's killer for the next one
  for k in "${!found[@]}"; do printf '%s\t%s\n' "$k" "${found[$k]}"; done | sort > "$killers"
fi
echo "mutation-check: $passed passed, $failed failed"
[ "$failed" = 0 ]
