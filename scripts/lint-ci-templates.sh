#!/usr/bin/env bash
# Checks the CI templates users copy (ci-templates/) with the tools their CI services trust:
# - the GitHub Actions workflows with actionlint (which also runs shellcheck on every `run:`),
#   built from the Go module proxy;
# - the GitLab CI file against GitLab's own CI JSON schema (the one its pipeline editor uses),
#   with gitlab-ci-local from the npm registry: it ships that schema, taken from GitLab's
#   repository at each release, and validates with ajv, then checks what the schema cannot
#   (a job without a script, needs on a missing job).
# Both are cached outside the repository, by version, like scripts/engine.sh caches the engine:
#
#   ${HERD_TOOLS_CACHE:-$HOME/.cache/herd-tools}/actionlint-<version>/actionlint
#   ${HERD_TOOLS_CACHE:-$HOME/.cache/herd-tools}/gitlab-ci-local-<version>/node_modules/gitlab-ci-local/
#
# Each check also runs on a deliberately broken copy, which must fail: a validator that accepts
# everything would otherwise pass unnoticed.
#
# Usage: scripts/lint-ci-templates.sh     (go, node and npm on the PATH, or go in /usr/local/go/bin)
set -euo pipefail
cd "$(dirname "$0")/.."

readonly ACTIONLINT_VERSION=v1.7.12
readonly GITLAB_CI_LOCAL_VERSION=4.75.1
cache="${HERD_TOOLS_CACHE:-$HOME/.cache/herd-tools}"

log() { printf 'lint-ci-templates: %s\n' "$*" >&2; }
die() {
    printf 'lint-ci-templates: ERROR: %s\n' "$*" >&2
    exit 1
}

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null || die "Go is not installed (looked on the PATH and in /usr/local/go/bin)"
command -v node >/dev/null || die "node is not on the PATH"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- actionlint -----------------------------------------------------------------------------

actionlint_dir="$cache/actionlint-$ACTIONLINT_VERSION"
actionlint="$actionlint_dir/actionlint"
if [ ! -x "$actionlint" ]; then
    log "building actionlint $ACTIONLINT_VERSION from the Go module proxy into $actionlint_dir"
    mkdir -p "$actionlint_dir"
    GOFLAGS="-buildvcs=false" GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOBIN="$actionlint_dir.tmp" \
        go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
    mv "$actionlint_dir.tmp/actionlint" "$actionlint"
    rmdir "$actionlint_dir.tmp"
else
    log "cached: $actionlint"
fi
command -v shellcheck >/dev/null || log "shellcheck is not on the PATH: actionlint checks the run: scripts without it"

workflows=(ci-templates/github/*.yml)
log "actionlint $("$actionlint" -version | head -n 1) on ${workflows[*]}"
"$actionlint" -color -oneline "${workflows[@]}" || die "actionlint found problems in the GitHub workflows (above)"

# The broken copy: a job that needs one that does not exist.
sed 's/^  plan:$/  plan:\n    needs: [no-such-job]/' ci-templates/github/pull-request.yml >"$work/broken.yml"
if "$actionlint" -oneline "$work/broken.yml" >/dev/null 2>&1; then
    die "actionlint accepted a workflow whose job needs a job that does not exist"
fi

# --- GitLab CI ------------------------------------------------------------------------------

glci_dir="$cache/gitlab-ci-local-$GITLAB_CI_LOCAL_VERSION"
glci="$glci_dir/node_modules/gitlab-ci-local/dist/index.js"
if [ ! -f "$glci" ]; then
    log "installing gitlab-ci-local $GITLAB_CI_LOCAL_VERSION from the npm registry into $glci_dir"
    mkdir -p "$glci_dir"
    npm install --prefix "$glci_dir" --no-save --no-audit --no-fund --ignore-scripts "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION" >&2
else
    log "cached: $glci"
fi

# gitlab-ci-local reads .gitlab-ci.yml of a git repository; it validates the whole file against
# the schema before listing the jobs.
gitlab_check() {
    local file=$1 repo="$work/gitlab-$RANDOM"
    mkdir -p "$repo"
    cp "$file" "$repo/.gitlab-ci.yml"
    cp package.json package-lock.json "$repo/" 2>/dev/null || true
    git -C "$repo" init --quiet --initial-branch=main
    git -C "$repo" -c user.name=lint -c user.email=lint@localhost add --all
    git -C "$repo" -c user.name=lint -c user.email=lint@localhost commit --quiet -m template
    # A remote and its default branch, as a clone has, for the project variables gitlab-ci-local
    # derives from them (nothing is fetched).
    git -C "$repo" remote add origin https://gitlab.example.org/fleet/herd-project.git
    git -C "$repo" update-ref refs/remotes/origin/main HEAD
    git -C "$repo" symbolic-ref refs/remotes/origin/HEAD refs/remotes/origin/main
    (cd "$repo" && node "$glci" --list --no-color 2>&1)
}

log "gitlab-ci-local $GITLAB_CI_LOCAL_VERSION (GitLab's CI schema) on ci-templates/gitlab-ci.yml"
if ! output=$(gitlab_check ci-templates/gitlab-ci.yml) || grep -q "Invalid .gitlab-ci.yml" <<<"$output"; then
    printf '%s\n' "$output" >&2
    die "ci-templates/gitlab-ci.yml does not validate against GitLab's CI schema (above)"
fi
printf '%s\n' "$output" | grep -E '^(name|[a-z:]+ )' >&2 || true

# The broken copy: a `when` GitLab does not know.
sed 's/      when: manual/      when: sometimes/' ci-templates/gitlab-ci.yml >"$work/broken-gitlab-ci.yml"
if broken=$(gitlab_check "$work/broken-gitlab-ci.yml") && ! grep -q "Invalid .gitlab-ci.yml" <<<"$broken"; then
    die "gitlab-ci-local accepted a file with when: sometimes"
fi

log "ci-templates: the GitHub workflows pass actionlint, and gitlab-ci.yml validates against GitLab's CI schema"
