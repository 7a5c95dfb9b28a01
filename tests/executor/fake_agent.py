#!/usr/bin/env python3
"""fake_agent.py: a stand-in for `claude -p --output-format stream-json`.

It accepts (and ignores) Claude Code's flags, reads the prompt from stdin,
optionally edits files in its working directory (the task's worktree), and
replays a recorded stream-json transcript from tests/data/agent/ on stdout.
Behaviours the executor must survive are options: stall (stop writing),
ignore SIGTERM, fork grandchildren (that ignore SIGTERM too), leave the
process group while holding stdout, an oversized line, a given exit code,
and a different first run (--marker FILE: while FILE does not exist the
run creates it and replays --first-transcript with --first-exit instead).

Options may also come from the prompt: every line of the form
`fake-agent: ARGS` adds ARGS (shell words) to the command line, so one
executor configuration can run tasks that each behave differently.

Placeholders in the transcript: {{SESSION_ID}} (from --session-id) and
{{CWD}}. Nothing here touches the network.
"""
import argparse
import json
import os
import shlex
import signal
import sys
import time

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "data", "agent")


def parse(argv):
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--transcript")
    p.add_argument("--edit", action="append", default=[])
    p.add_argument("--exit", type=int, default=None)
    p.add_argument("--stall", action="store_true")
    p.add_argument("--ignore-term", action="store_true")
    p.add_argument("--grandchildren", type=int, default=0)
    p.add_argument("--escape", action="store_true")
    p.add_argument("--pidfile")
    p.add_argument("--oversize", type=int, default=0)
    p.add_argument("--stderr")
    p.add_argument("--prompt-out")
    p.add_argument("--env-out")
    p.add_argument("--argv-out")
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--marker")
    p.add_argument("--first-transcript")
    p.add_argument("--first-exit", type=int, default=1)
    p.add_argument("--session-id", default="00000000-0000-0000-0000-000000000000")
    args, _ = p.parse_known_args(argv)
    return args


def prompt_args(prompt):
    extra = []
    for line in prompt.splitlines():
        line = line.strip()
        if line.startswith("fake-agent:"):
            extra += shlex.split(line[len("fake-agent:"):])
    return extra


def transcript_path(name):
    if os.path.sep in name:
        return name
    return os.path.join(DATA_DIR, name if name.endswith(".jsonl")
                        else name + ".jsonl")


def write_pid(pidfile, pid):
    if pidfile:
        with open(pidfile, "a") as f:
            f.write("%d\n" % pid)
            f.flush()
            os.fsync(f.fileno())


def sleep_forever():
    while True:
        time.sleep(3600)


def fork_grandchildren(args):
    for _ in range(args.grandchildren):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if args.escape:
                os.setsid()  # leaves the group, keeps stdout open
            sleep_forever()
        write_pid(args.pidfile, pid)


def do_edits(edits):
    for e in edits:
        path, _, text = e.partition("=")
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(path, "w") as f:
            f.write(text.replace("\\n", "\n"))


def replay(args):
    out = sys.stdout.buffer
    if args.oversize:
        out.write(b"x" * args.oversize + b"\n")
    if args.transcript:
        with open(transcript_path(args.transcript), "rb") as f:
            for raw in f:
                raw = raw.replace(b"{{SESSION_ID}}", args.session_id.encode())
                raw = raw.replace(b"{{CWD}}", os.getcwd().encode())
                out.write(raw)
                out.flush()
                if args.delay_ms:
                    time.sleep(args.delay_ms / 1000.0)
    out.flush()


def main():
    prompt = sys.stdin.read()
    args = parse(sys.argv[1:] + prompt_args(prompt))
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    write_pid(args.pidfile, os.getpid())
    if args.prompt_out:
        with open(args.prompt_out, "w") as f:
            f.write(prompt)
    if args.env_out:
        with open(args.env_out, "w") as f:
            json.dump(dict(os.environ), f)
    if args.argv_out:
        with open(args.argv_out, "w") as f:
            json.dump(sys.argv, f)
    if args.marker and not os.path.exists(args.marker):
        open(args.marker, "w").close()  # the first run behaves differently
        args.transcript = args.first_transcript
        args.exit = args.first_exit
        args.edit = []
    fork_grandchildren(args)
    if args.stderr:
        sys.stderr.write(args.stderr + "\n")
        sys.stderr.flush()
    do_edits(args.edit)
    replay(args)
    if args.stall:
        sleep_forever()
    sys.exit(args.exit if args.exit is not None else 0)


if __name__ == "__main__":
    main()
