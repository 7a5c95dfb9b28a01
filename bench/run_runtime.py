#!/usr/bin/env python3
"""bench/run runtime: ccm's actor runtime beside CAF and Erlang.

Runs every workload of bench/peers/README.md with 1 and 2 scheduler threads
on ccm (build-bench/bench/bench_runtime), CAF and Erlang, BENCH_REPEAT times
each (default 3), takes medians, prints one table, and writes
bench/results/runtime.json. Also the floor: a bare MPSC hand-off between two
threads against the same hand-off through the runtime.

JSON rows: {"name", "ccm", "peer", "peer_value", "ratio", "unit",
"higher_is_better"}; ratio = ccm / peer_value (so above 1 is better when
higher_is_better, below 1 is better otherwise).
"""
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = sys.argv[1]
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
WORKLOADS = ["pingpong", "counting", "fanout", "threadring", "big"]
WORKERS = [1, 2]
PEERS = ["caf", "erlang"]


def run(cmd):
    """Run one benchmark process; return {(workload, metric): (value, unit)}."""
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, timeout=600).stdout
    res = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0] == "RESULT":
            res[(parts[1], parts[2])] = (float(parts[3]), parts[4])
    if not res:
        raise RuntimeError("no RESULT line from %s" % " ".join(cmd))
    return res


def median_of(cmd):
    runs = [run(cmd) for _ in range(REPEAT)]
    keys = runs[0].keys()
    return {k: (statistics.median(r[k][0] for r in runs), runs[0][k][1])
            for k in keys}


def ccm_cmd(workload, workers):
    return [os.path.join(BUILD, "bench", "bench_runtime"), workload, str(workers)]


def peer_cmd(peer, workload, workers):
    return [os.path.join(HERE, "peers", "run_peer.sh"), peer, workload, str(workers)]


def fmt(v):
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e3:
        return "%.1fk" % (v / 1e3)
    return "%.1f" % v


def main():
    rows = []
    table = []
    for workload in WORKLOADS:
        for workers in WORKERS:
            sys.stderr.write("runtime: %s, %d worker(s)...\n" % (workload, workers))
            ccm = median_of(ccm_cmd(workload, workers))
            peers = {p: median_of(peer_cmd(p, workload, workers)) for p in PEERS}
            for (w, metric), (value, unit) in sorted(ccm.items()):
                higher = metric != "latency"
                name = "%s %s (%d worker%s)" % (w, metric, workers,
                                                "s" if workers > 1 else "")
                cells = [name, unit, fmt(value)]
                for p in PEERS:
                    pv = peers[p][(w, metric)][0]
                    ratio = value / pv if pv else float("inf")
                    rows.append({"name": name, "ccm": value, "peer": p,
                                 "peer_value": pv, "ratio": round(ratio, 3),
                                 "unit": unit, "higher_is_better": higher})
                    better = ratio if higher else (1 / ratio if ratio else 0)
                    cells += [fmt(pv), "%.2fx" % better]
                table.append(cells)
    for workers in WORKERS:
        sys.stderr.write("runtime: hand-off floor, %d worker(s)...\n" % workers)
        h = median_of(ccm_cmd("handoff", workers))
        bare, unit = h[("handoff", "bare")]
        ccm = h[("handoff", "runtime")][0]
        name = "cross-thread hand-off (%d worker%s)" % (workers, "s" if workers > 1 else "")
        rows.append({"name": name, "ccm": ccm, "peer": "bare-mpsc",
                     "peer_value": bare, "ratio": round(ccm / bare, 3),
                     "unit": unit, "higher_is_better": False})
        table.append([name, unit, fmt(ccm), fmt(bare), "%.2fx cost" % (ccm / bare), "", ""])

    head = ["figure", "unit", "ccm", "CAF", "ccm vs CAF", "Erlang", "ccm vs Erlang"]
    widths = [max(len(str(r[i])) for r in table + [head]) for i in range(len(head))]
    print("runtime suite: medians of %d runs; 'Nx' = how many times better ccm is" % REPEAT)
    print("  ".join(h.ljust(widths[i]) for i, h in enumerate(head)))
    for r in table:
        print("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)))
    print("(hand-off rows: peer column = bare MPSC queue between two threads; "
          "ratio = ccm's cost / the bare cost)")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", "runtime.json")
    with open(path, "w") as f:
        json.dump({"suite": "runtime", "repeat": REPEAT, "rows": rows}, f, indent=1)
    print("wrote %s" % path)


if __name__ == "__main__":
    main()
