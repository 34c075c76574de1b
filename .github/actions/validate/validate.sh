#!/usr/bin/env bash
# The validate step of the action: judge the commit that was checked out, which for a pull
# request is GitHub's merge of it into its base as the base is now (refs/pull/N/merge, what
# actions/checkout checks out by default) and for a merge queue is the queue's commit, against its
# first parent: the base branch. Untrusted values come in through the environment only.
#   MODEL_PATH, HEAD_REPO, HEAD_REF, EVENT (pull_request | merge_group), BASE_SHA (used when HEAD
#   is not a merge), RUNNER_TEMP, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY.
set -euo pipefail

if [ "$(git rev-list --parents -n 1 HEAD | wc -w)" -ge 3 ]; then
    base="$(git rev-parse HEAD^1)"  # a merge: its first parent is the base branch it merges into
else
    base="$BASE_SHA"
fi
git worktree add --quiet --detach "$RUNNER_TEMP/datasurface-base" "$base"
echo "validating $(git rev-parse --short HEAD) against $(git rev-parse --short "$base")"

if [ "${EVENT:-pull_request}" = merge_group ]; then
    source_args=(--merge-queue --source "merge-queue/queue@$(git rev-parse --short HEAD)")
else
    source_args=(--source "$HEAD_REPO@$HEAD_REF")
fi
set +e
datasurface validate --base "$RUNNER_TEMP/datasurface-base/$MODEL_PATH" --head "$MODEL_PATH" "${source_args[@]}" \
    --format markdown --out "$RUNNER_TEMP/datasurface-report.md"
code=$?
set -e
if [ "$code" -eq 0 ]; then
    echo "verdict=pass" >> "$GITHUB_OUTPUT"
elif [ "$code" -eq 1 ]; then
    echo "verdict=fail" >> "$GITHUB_OUTPUT"
else
    exit "$code"
fi
echo "base=$base" >> "$GITHUB_OUTPUT"
cat "$RUNNER_TEMP/datasurface-report.md" >> "$GITHUB_STEP_SUMMARY"
