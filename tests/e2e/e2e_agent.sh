#!/bin/sh
# e2e_agent.sh CTL: the agent of the e2e suite (tests/e2e/test_e2e.c),
# started by a real `ccm serve` in the task's worktree. CTL is a folder of
# two fifos the test holds open; E2E_FAKE_AGENT (from the preset's `env`,
# which the daemon passes to the agent) is the path of
# tests/executor/fake_agent.py.
#
# It reports "started PID LEFTOVER" on $E2E_CTL/started, where LEFTOVER is
# what an earlier run left in this worktree ("-" when nothing: a restart
# must have removed the worktree of a killed run), leaves such a file
# itself, then blocks until the test writes a line to $E2E_CTL/go: the
# test decides whether the run goes on or ccm is killed meanwhile. Then it
# removes its file and becomes tests/executor/fake_agent.py (the prompt on
# stdin passes through), which writes the fix and replays a successful
# stream-json transcript.
set -eu
E2E_CTL=$1
FAKE_AGENT=${E2E_FAKE_AGENT:?the preset env E2E_FAKE_AGENT did not reach the agent}
leftover=-
[ -f e2e-leftover.txt ] && leftover=$(cat e2e-leftover.txt)
echo "run-$$" > e2e-leftover.txt
echo "started $$ $leftover" > "$E2E_CTL/started"
read -r go < "$E2E_CTL/go"
rm -f e2e-leftover.txt
exec python3 "$FAKE_AGENT" --transcript success \
  --edit 'src/main.c=int main(int argc, char **argv) { (void)argv; return argc > 1; }\n'
