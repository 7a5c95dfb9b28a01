#!/usr/bin/env python3
"""bench/run executor: the executor's overhead beside a plain peer.

Figures (each a median of BENCH_REPEAT runs, default 3; ccm and the peer
interleaved so that a noisy moment hits both):
  first event  dispatch -> the agent's first output line, microseconds,
               median over 30 tasks run one after another
  throughput   tasks/s with a trivial agent at concurrency 8, 64 tasks
  CPU per task CPU time (user + system of the process and of the git and
               agent processes it ran) per task during the throughput run:
               on a shared, loaded machine the rate swings with the load,
               the CPU cost much less

ccm: build-bench/bench/bench_exec (bench/bench_exec.c): the real executor
actor with its store (no fsync), run actors, git worktrees, prompt files,
the agent process, commit + numstat, the gate and the clean-up.

The peer: this script doing the same work per task with no framework: a
Python thread pool (8 threads for the throughput), subprocess for the agent
and git: `git worktree add -b ccm/<id>`, the prompt written to a file and
fed on stdin, the agent started in its own session, its first stdout line
read; then `git add -A`, `git commit`, `git diff --numstat`, `git worktree
remove --force`; worktree add/remove serialised by one lock as ccm does
(concurrent adds and prunes in one repository race). The agent is the same
trivial command for both: it prints one stream-json line and writes one
file.

Also runs build-bench/bench/bench_prio (the prioritizer's benchmark, one
JSON row per line) when it exists, and adds its rows.

Writes bench/results/executor.json: {"suite", "repeat", "rows": [{"name",
"ccm", "peer", "peer_value", "ratio", "unit", "higher_is_better"}]},
ratio = ccm / peer_value.
"""
import concurrent.futures
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build-bench")
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
TMP = os.environ.get("BENCH_TMP", BUILD)
FIRST_N, TP_N, CONCURRENCY = 30, 64, 8
AGENT = ["/bin/sh", "-c", "printf '{\"type\":\"system\",\"subtype\":\"init\"}\\n'; "
         "echo done > out.txt"]
GIT = ["git", "-c", "core.hooksPath=/dev/null", "-c", "gc.auto=0"]
ENV = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")


def git(repo, *args):
    subprocess.run(GIT + ["-C", repo] + list(args), check=True, env=ENV,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def git_out(repo, *args):
    return subprocess.run(GIT + ["-C", repo] + list(args), check=True, env=ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True).stdout


def make_repo(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    with open(os.path.join(path, "README.md"), "w") as f:
        f.write("hello\n")
    git(path, "add", "README.md")
    git(path, "-c", "user.name=b", "-c", "user.email=b@localhost", "commit",
        "-q", "-m", "init")


class Peer:
    """The executor's per-task work, done directly."""

    def __init__(self, root):
        self.repo = os.path.join(root, "repo")
        self.data = os.path.join(root, "data")
        shutil.rmtree(self.data, ignore_errors=True)
        os.makedirs(self.data)
        make_repo(self.repo)
        self.base = git_out(self.repo, "rev-parse", "HEAD").strip()
        self.lock = threading.Lock()

    def run(self, tid):
        """One task; returns the time to the agent's first line (s)."""
        t0 = time.monotonic()
        wt = os.path.join(self.data, "worktrees", tid)
        runs = os.path.join(self.data, "runs", tid)
        with self.lock:
            git(self.repo, "worktree", "add", "-q", "-b", "ccm/" + tid, wt,
                self.base)
        os.makedirs(runs, exist_ok=True)
        prompt = os.path.join(runs, "1.prompt.md")
        with open(prompt, "w") as f:
            f.write("Write out.txt for task %s.\n" % tid)
        with open(prompt) as stdin:
            p = subprocess.Popen(AGENT, cwd=wt, stdin=stdin,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE,
                                 start_new_session=True,
                                 env={"PATH": os.environ["PATH"]})
        p.stdout.readline()
        first = time.monotonic() - t0
        p.stdout.read()
        p.stderr.read()
        p.wait()
        git(wt, "add", "-A")
        git(wt, "-c", "user.name=ccm", "-c", "user.email=ccm@localhost",
            "commit", "-q", "--no-verify", "-m", "ccm: " + tid)
        git_out(wt, "diff", "--numstat", "-z", self.base, "HEAD")
        with self.lock:
            git(self.repo, "worktree", "remove", "--force", "--force", wt)
        return first


def peer_first_event(root):
    p = Peer(root)
    times = sorted(p.run("fe-%d" % i) for i in range(FIRST_N))
    return times[len(times) // 2] * 1e6


def cpu_s():
    """CPU seconds of this process and its reaped children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def peer_throughput(root):
    """(tasks/s, CPU ms per task)"""
    p = Peer(root)
    c0, t0 = cpu_s(), time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(p.run, ["tp-%d" % i for i in range(TP_N)]))
    return TP_N / (time.monotonic() - t0), (cpu_s() - c0) * 1e3 / TP_N


def ccm(mode, root, extra=()):
    """The RESULT values of one bench_exec run, in order."""
    cmd = [os.path.join(BUILD, "bench", "bench_exec"), mode, "--dir", root,
           "--tasks", str(FIRST_N if mode == "first-event" else TP_N),
           "--concurrency", str(CONCURRENCY)] + list(extra)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True,
                         timeout=1200).stdout
    values = [float(line.split()[2]) for line in out.splitlines()
              if line.startswith("RESULT ") and len(line.split()) == 4]
    if not values:
        raise RuntimeError("no RESULT line from %s" % " ".join(cmd))
    return values


def prio_rows():
    exe = os.path.join(BUILD, "bench", "bench_prio")
    if not os.access(exe, os.X_OK):
        sys.stderr.write("executor: %s not built: no prioritizer rows\n" % exe)
        return []
    sys.stderr.write("executor: running %s...\n" % exe)
    out = subprocess.run([exe], check=True, stdout=subprocess.PIPE,
                         text=True, timeout=1200).stdout
    rows = []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            row = json.loads(line)
            if {"name", "ccm", "peer_value"} <= row.keys():
                rows.append(row)
    return rows


def fmt(v):
    return "%.1f" % v if v < 100 else "%.0f" % v


def fmt_ratio(r):
    return "%.2fx" % r if r >= 0.1 else "%.2gx" % r


def main():
    root = tempfile.mkdtemp(prefix="ccm-bench-exec-", dir=TMP)
    # (names of the figures a run gives, ccm run, peer run)
    runs = [
        (["dispatch to the agent's first event"],
         lambda: ccm("first-event", root), lambda: [peer_first_event(root)]),
        (["tasks/s, trivial agent, concurrency 8",
          "CPU per task, concurrency 8"],
         lambda: ccm("throughput", root), lambda: list(peer_throughput(root))),
        (["tasks/s, concurrency 8, 8 blocking threads",
          "CPU per task, concurrency 8, 8 blocking threads"],
         lambda: ccm("throughput", root, ["--blocking", "8"]),
         lambda: list(peer_throughput(root))),
    ]
    figures = [  # name, unit, higher is better
        ("dispatch to the agent's first event", "us", False),
        ("tasks/s, trivial agent, concurrency 8", "tasks/s", True),
        ("tasks/s, concurrency 8, 8 blocking threads", "tasks/s", True),
        ("CPU per task, concurrency 8", "ms", False),
        ("CPU per task, concurrency 8, 8 blocking threads", "ms", False),
    ]
    samples = {f[0]: ([], []) for f in figures}
    try:
        for rep in range(REPEAT):
            for names, run_ccm, run_peer in runs:
                sys.stderr.write("executor: %s (run %d/%d)...\n" % (names[0], rep + 1, REPEAT))
                for name, v in zip(names, run_ccm()):
                    samples[name][0].append(v)
                for name, v in zip(names, run_peer()):
                    samples[name][1].append(v)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows, table = [], []
    for name, unit, higher in figures:
        c, p = (statistics.median(v) for v in samples[name])
        ratio = c / p if p else float("inf")
        rows.append({"name": name, "ccm": round(c, 2), "peer": "python-subprocess",
                     "peer_value": round(p, 2), "ratio": round(ratio, 3),
                     "unit": unit, "higher_is_better": higher})
        better = ratio >= 1 if higher else ratio <= 1
        table.append([name, unit, fmt(c), fmt(p), fmt_ratio(ratio),
                      "ccm better" if better else "peer better",
                      "ccm %s / peer %s" % (",".join(fmt(x) for x in samples[name][0]),
                                            ",".join(fmt(x) for x in samples[name][1]))])
    for row in prio_rows():
        rows.append(row)
        table.append([row["name"], row.get("unit", ""), fmt(row["ccm"]),
                      fmt(row["peer_value"]), fmt_ratio(row.get("ratio", 0)),
                      "(bench_prio, peer %s)" % row.get("peer", "?"), ""])
    head = ["figure", "unit", "ccm", "peer", "ccm/peer", "", "runs"]
    widths = [max(len(str(r[i])) for r in table + [head]) for i in range(len(head))]
    print("executor suite: medians of %d runs; peer = Python subprocess pool "
          "doing the same git + agent work" % REPEAT)
    print("  ".join(h.ljust(widths[i]) for i, h in enumerate(head)))
    for r in table:
        print("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", "executor.json")
    with open(path, "w") as f:
        json.dump({"suite": "executor", "repeat": REPEAT, "rows": rows}, f, indent=1)
    print("wrote %s" % path)


if __name__ == "__main__":
    main()
