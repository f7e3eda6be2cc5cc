#!/usr/bin/env bash
# Mutation testing (not in CI: minutes to hours): mutmut 3 mutates one module at a time and
# runs that module's unit tests against each mutant; a mutant the tests do not kill is a
# behaviour nobody would notice breaking. Prints mutmut's results and the score.
#
#   bash scripts/mutation.sh            # all four targets
#   bash scripts/mutation.sh masking    # one: status | masking | model | secrets
#   MUTATION_OUT=DIR bash scripts/mutation.sh ...   # also keep each survivor's diff in DIR
#
# Targets and the tests that guard them:
#   status   console/status/engine.py   tests/unit/test_status_engine.py tests/unit/test_status_rules.py
#                                       tests/unit/test_k8s_status.py (a workload verdict)
#   masking  console/masking.py         tests/unit/test_masking.py tests/unit/test_logbuffer.py
#   model    console/model.py           tests/unit/test_stackfile.py
#   secrets  actions/secrets/scan.py    tests/unit/test_secrets.py tests/unit/test_secrets_{env,values,
#                                       compose,run}.py
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip install -q 'mutmut>=3.2,<4'

declare -A SOURCE=([status]=console/status/engine.py [masking]=console/masking.py
                   [model]=console/model.py [secrets]=actions/secrets/scan.py)
declare -A TESTS=([status]="tests/unit/test_status_engine.py tests/unit/test_status_rules.py tests/unit/test_k8s_status.py"
                  [masking]="tests/unit/test_masking.py tests/unit/test_logbuffer.py"
                  [model]="tests/unit/test_stackfile.py"
                  [secrets]="tests/unit/test_secrets.py tests/unit/test_secrets_env.py tests/unit/test_secrets_values.py tests/unit/test_secrets_compose.py tests/unit/test_secrets_run.py")
# Tests that run the console in a child process cannot see a mutant (mutmut switches
# mutants inside its own process; the child fails with mutmut's "could not figure out where
# the code to mutate is"), and the SIGKILL tests guard console/fileio.py, not the scanner.
declare -A DESELECT=([secrets]="not asks_on_a_terminal and not sigkill")
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(status masking model secrets)

for target in "${targets[@]}"; do
  source=${SOURCE[$target]:?unknown target $target (status, masking, model, secrets)}
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # mutmut works in a copy; the config names one source file and its tests (docker and
  # server tests deselected: a mutant is judged by unit tests in seconds, not minutes).
  git ls-files -z | xargs -0 -I{} cp --parents {} "$work"
  tests_toml=$(printf '"%s", ' ${TESTS[$target]})
  deselect=${DESELECT[$target]:+, \"-k\", \"${DESELECT[$target]}\"}
  cat >> "$work/pyproject.toml" <<TOML

[tool.mutmut]
paths_to_mutate = ["$source"]
tests_dir = [${tests_toml%, }]
also_copy = ["cli", "ui", "actions", "console", "tests", "scripts"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-m", "not integration", "-x", "-q"$deselect]
TOML
  echo "== $target: $source against ${TESTS[$target]}"
  (cd "$work" && "$OLDPWD/.venv/bin/mutmut" run --max-children 2 >/dev/null 2>&1 || true
   "$OLDPWD/.venv/bin/mutmut" results --all true > results.txt 2>&1 || true
   killed=$(grep -c ': killed' results.txt || true)
   survived=$(grep -c ': survived' results.txt || true)
   other=$(grep -vc ': killed\|: survived' results.txt || true)
   total=$((killed + survived))
   echo "killed $killed, survived $survived (other: $other)"
   [ "$total" -gt 0 ] && echo "score: $((100 * killed / total))%"
   grep ': survived' results.txt | head -40
   # Each survivor's diff, to tell a missing test from an equivalent mutant.
   if [ -n "${MUTATION_OUT:-}" ]; then
     mkdir -p "$MUTATION_OUT"
     for name in $(grep ': survived' results.txt | sed 's/: survived//'); do
       "$OLDPWD/.venv/bin/mutmut" show "$name" 2>/dev/null
     done > "$MUTATION_OUT/$target-survivors.diff"
     echo "survivors' diffs: $MUTATION_OUT/$target-survivors.diff"
   fi)
  rm -rf "$work"; trap - EXIT
done
