#!/bin/sh
# make_dora_repo.sh DIR: a git repository with a known delivery history for
# tests/monitor/test_dora.c (every date fixed; T0 = 2026-11-01T00:00:00Z).
#
#   deployment (merge to main)          changes (author time)   failure
#   M1 feature/a (#11)  T0+2d           a1 T0+1d, a2 T0+1d12h   -
#   M2 feature/bot      T0+3d06h        c1 T0+3d (ccm-agent)    -
#   M3 feature/b        T0+5d           b1 T0+4d                b1 reverted T0+5d02h
#   M4 feature/c        T0+7d12h        x1 T0+7d                hotfix M5 T0+7d16h
#   M5 hotfix/crash     T0+7d16h        h1 T0+7d13h             -
#   M6 ccm/task2        T0+12d          d1 T0+10d               M6 reverted T0+12d03h
#   M7 feature/late     T0+31d          (after "now" = T0+30d: not counted)
# Tags (annotated): v0.9 T0-10d, v1.0 T0+2d01h (M1), v1.1 T0+5d01h (M3),
# v1.2 T0+7d17h (M5), v2.0 T0+12d01h (M6), other-1 (does not match v*).
set -eu
dir=$1
T0=1793491200
H=3600
D=86400
mkdir -p "$dir"
cd "$dir"
git init -q -b main .
git config user.name "Alice"
git config user.email "alice@example.com"
git config commit.gpgsign false
git config tag.gpgsign false

at() { # at SECONDS: author and committer date for the next git command
  GIT_AUTHOR_DATE="@$1 +0000"
  GIT_COMMITTER_DATE="@$1 +0000"
  export GIT_AUTHOR_DATE GIT_COMMITTER_DATE
}
commit() { # commit FILE SUBJECT
  echo "$2" >> "$1"
  git add "$1"
  git commit -q -m "$2"
}
merge() { # merge BRANCH [MESSAGE]
  git checkout -q main
  git merge -q --no-ff "$1" -m "${2:-Merge branch '$1'}"
}
tag() { # tag NAME
  git tag -a "$1" -m "release $1"
}

at $((T0 - 10 * D)); commit README "initial"; tag v0.9
at $((T0 - 10 * D)); git tag -a other-1 -m other

git checkout -q -b feature/a
at $((T0 + D)); commit a.txt "a1"
at $((T0 + D + 12 * H)); commit a.txt "a2"
at $((T0 + 2 * D)); merge feature/a "Merge pull request #11 from acme/feature/a"
at $((T0 + 2 * D + H)); tag v1.0

git checkout -q -b feature/bot
GIT_AUTHOR_NAME=ccm-agent GIT_AUTHOR_EMAIL=agent@ccm
export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL
at $((T0 + 3 * D)); commit bot.txt "c1"
unset GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL
at $((T0 + 3 * D + 6 * H)); merge feature/bot

git checkout -q -b feature/b
at $((T0 + 4 * D)); commit b.txt "b1"
at $((T0 + 5 * D)); merge feature/b
at $((T0 + 5 * D + H)); tag v1.1
b1=$(git rev-parse feature/b)
at $((T0 + 5 * D + 2 * H)); git revert --no-edit "$b1" > /dev/null

git checkout -q -b feature/c
at $((T0 + 7 * D)); commit c.txt "x1"
at $((T0 + 7 * D + 12 * H)); merge feature/c

git checkout -q -b hotfix/crash
at $((T0 + 7 * D + 13 * H)); commit c.txt "h1"
at $((T0 + 7 * D + 16 * H)); merge hotfix/crash
at $((T0 + 7 * D + 17 * H)); tag v1.2

git checkout -q -b ccm/task2
at $((T0 + 10 * D)); commit d.txt "d1"
at $((T0 + 12 * D)); merge ccm/task2
at $((T0 + 12 * D + H)); tag v2.0
m6=$(git rev-parse HEAD)
at $((T0 + 12 * D + 3 * H)); git revert --no-edit -m 1 "$m6" > /dev/null

git checkout -q -b feature/late
at $((T0 + 31 * D)); commit late.txt "late"
at $((T0 + 31 * D)); merge feature/late
