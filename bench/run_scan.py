#!/usr/bin/env python3
"""bench/run scan: ccm's marker scan beside ripgrep and leasot.

The tree: the Linux kernel source from Debian's linux-source-6.1, unpacked
once into bench/.cache/ (BENCH_KERNEL=DIR uses another tree). Every tool
sees the same files: ccm with --no-default-excludes (the tarball has no
vendored folders to skip), ripgrep with --hidden --no-ignore (outside git
it would read hidden files' rules otherwise), leasot on every file ccm
reads that leasot knows a comment syntax for. ccm walks the tree with
--no-git (the unpacked tarball sits inside this repository's ignored
bench/.cache/, and is no git repository of its own).

Figures (medians of BENCH_REPEAT warm runs, default 3, tools interleaved):
  markers   `ccm scan --json --no-secrets --no-refactor` (every marker as a
            structured finding: id, kind, tag, path, line, column, text,
            score) vs `rg -c -w 'TODO|FIXME|HACK|XXX|BUG|OPTIMIZE'`;
            SPEC target: within 1.5x of ripgrep's time
  full      `ccm scan --json` (markers + secrets + refactoring metrics)
            vs the same rg run (for scale; no target)
  rescan    incremental rescans with `ccm scan --json --data DIR` (full
            findings; state primed by one scan): of the unchanged tree, and
            after touching 10 files (new mtimes: those 10 are read again),
            each vs an `rg -c` run of the whole tree in the same rounds;
            the files each rescan read are printed (from its summary)
  leasot    ccm markers vs leasot on the subtree BENCH_LEASOT_SUBTREE
            (default: kernel/ and mm/), time and recall: the share of
            leasot's (path, line, tag) findings ccm also reports. leasot
            matches tags in any case, so ccm runs with --any-case here (its
            default is upper case only). Target: many times faster, recall 1.

Quick runs: BENCH_KERNEL=/usr/share/go-1.19/src (Debian golang-1.19-src).
Writes bench/results/scan.json in the shape of SPEC §4.
"""
import json
import os
import statistics
import subprocess
import sys
import re
import shutil
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
BUILD = sys.argv[1]
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
CCM = os.path.join(BUILD, "app", "ccm")
TARBALL = "/usr/src/linux-source-6.1.tar.xz"
CACHE = os.path.join(HERE, ".cache")
LEASOT = os.path.join(TOP, "tests", "node", "node_modules", ".bin", "leasot")
MARKERS = ["TODO", "FIXME", "HACK", "XXX", "BUG", "OPTIMIZE"]


def kernel_tree():
    tree = os.environ.get("BENCH_KERNEL")
    if tree:
        return tree
    tree = os.path.join(CACHE, "linux-source-6.1")
    if not os.path.isdir(tree):
        os.makedirs(CACHE, exist_ok=True)
        sys.stderr.write("scan: unpacking %s (once)...\n" % TARBALL)
        with tarfile.open(TARBALL) as t:
            t.extractall(CACHE)
    return tree


def timed(cmd, cwd=None, ok=(0,)):
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=3600)
    dt = time.monotonic() - t0
    if p.returncode not in ok:
        raise RuntimeError("%s: exit %d: %s" % (cmd[0], p.returncode,
                                                p.stderr.decode()[-500:]))
    return dt, p.stdout


def ccm_cmd(tree, full, any_case=False):
    cmd = [CCM, "scan", "--json", "--no-git", "--no-default-excludes", tree]
    if any_case:
        cmd.insert(2, "--any-case")
    if not full:
        cmd[4:4] = ["--no-secrets", "--no-refactor"]
    return cmd


def rg_cmd(tree):
    return ["rg", "-c", "--hidden", "--no-ignore", "-w",
            "|".join(MARKERS), tree]


def count_findings(out):
    return sum(1 for line in out.splitlines() if line.strip())


def rg_total(out):
    return sum(int(l.rsplit(b":", 1)[1]) for l in out.splitlines() if b":" in l)


def measure(named_cmds, ok=None):
    """Interleave the commands REPEAT times after one warm-up each."""
    ok = ok or {}
    samples = {name: [] for name, _ in named_cmds}
    outs = {}
    for name, cmd in named_cmds:
        _, outs[name] = timed(cmd, ok=ok.get(name, (0,)))
    for rep in range(REPEAT):
        for name, cmd in named_cmds:
            sys.stderr.write("scan: %s (run %d/%d)...\n" % (name, rep + 1, REPEAT))
            dt, _ = timed(cmd, ok=ok.get(name, (0,)))
            samples[name].append(dt)
    return {k: statistics.median(v) for k, v in samples.items()}, samples, outs


def leasot_findings(subtrees, tree):
    """leasot's (path, line, tag) set on the subtrees, and its run time."""
    files = []
    for sub in subtrees:
        for root, _, names in os.walk(os.path.join(tree, sub)):
            files.extend(os.path.relpath(os.path.join(root, n), tree) for n in names)
    cmd = [LEASOT, "--reporter", "json", "--skip-unsupported", "--exit-nicely",
           "--tags", ",".join(m for m in MARKERS if m not in ("TODO", "FIXME"))]
    t0 = time.monotonic()
    found = set()
    for i in range(0, len(files), 2000):  # argv size
        p = subprocess.run(cmd + files[i:i + 2000], cwd=tree,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=3600)
        for item in json.loads(p.stdout or b"[]"):
            found.add((item["file"], item["line"], item["tag"].upper()))
    return time.monotonic() - t0, found


def ccm_set(out, prefix=""):
    s = set()
    for line in out.splitlines():
        o = json.loads(line)
        if o.get("tag"):
            s.add((os.path.join(prefix, o["path"]) if prefix else o["path"],
                   o["line"], o["tag"]))
    return s


def row(name, ccm, peer, peer_value, unit, hib):
    ratio = ccm / peer_value if peer_value else float("inf")
    return {"name": name, "ccm": round(ccm, 4), "peer": peer,
            "peer_value": round(peer_value, 4), "ratio": round(ratio, 3),
            "unit": unit, "higher_is_better": hib}


def files_read(err):
    m = re.search(rb": (\d+) files in", err)
    return int(m.group(1)) if m else -1


def timed_err(cmd):
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=3600)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d" % (cmd[0], p.returncode))
    return time.monotonic() - t0, p.stderr


def ten_files(tree):
    found = []
    for root, dirs, names in os.walk(tree):
        dirs.sort()
        found += [os.path.join(root, n) for n in sorted(names)
                  if n.endswith((".c", ".go"))]
        if len(found) >= 10:
            return found[:10]
    return found


def incremental_rows(tree):
    """Rescans with state, interleaved with rg runs of the whole tree."""
    data = tempfile.mkdtemp(prefix="ccm-bench-data-")
    cmd = ccm_cmd(tree, True)
    cmd[2:2] = ["--data", data]
    try:
        first, err = timed_err(cmd)
        sys.stderr.write("scan: primed the state: %d files in %.2f s\n" % (
            files_read(err), first))
        touched = ten_files(tree)
        t = {"rg": [], "unchanged": [], "touched": []}
        reads = {"unchanged": [], "touched": []}
        for rep in range(REPEAT):
            sys.stderr.write("scan: rescans (run %d/%d)...\n" % (rep + 1, REPEAT))
            t["rg"].append(timed(rg_cmd(tree), ok=(0, 1))[0])
            dt, err = timed_err(cmd)
            t["unchanged"].append(dt)
            reads["unchanged"].append(files_read(err))
            for f in touched:
                os.utime(f, None)
            dt, err = timed_err(cmd)
            t["touched"].append(dt)
            reads["touched"].append(files_read(err))
    finally:
        shutil.rmtree(data, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in t.items()}
    print("  first scan with --data (full, writes the state): %.2f s" % first)
    print("  rescans read: unchanged %s files, after touching 10: %s files" % (
        reads["unchanged"], reads["touched"]))
    return [row("rescan of the unchanged tree (time)", med["unchanged"],
                "ripgrep", med["rg"], "s", False),
            row("rescan after touching 10 files (time)", med["touched"],
                "ripgrep", med["rg"], "s", False)]


def leasot_rows(tree):
    subs = os.environ.get("BENCH_LEASOT_SUBTREE", "kernel mm").split()
    if not os.path.exists(LEASOT):
        print("  leasot: not installed (tests/node); skipped")
        return []
    lt, lset = leasot_findings(subs, tree)
    t0 = time.monotonic()
    cset = set()
    for sub in subs:
        _, out = timed(ccm_cmd(os.path.join(tree, sub), False, True))
        cset |= ccm_set(out, sub)
    ct = time.monotonic() - t0
    both = len(lset & cset)
    recall = both / len(lset) if lset else 1.0
    print("  leasot on %s: leasot %.2f s, %d findings; ccm %.2f s, %d findings;"
          " ccm has %d of leasot's (recall %.3f), %d more" % (
              "+".join(subs), lt, len(lset), ct, len(cset), both, recall,
              len(cset - lset)))
    missed = sorted(lset - cset)[:10]
    for m in missed:
        print("    missed: %s:%d %s" % m)
    return [row("marker scan of %s vs leasot (time)" % "+".join(subs), ct,
                "leasot", lt, "s", False),
            row("recall vs leasot's findings", recall, "leasot", 1.0,
                "fraction", True)]


def main():
    tree = kernel_tree()
    cmds = [("ccm-markers", ccm_cmd(tree, False)), ("rg", rg_cmd(tree)),
            ("ccm-full", ccm_cmd(tree, True))]
    med, samples, outs = measure(cmds, ok={"rg": (0, 1)})
    n_ccm = count_findings(outs["ccm-markers"])
    n_rg = rg_total(outs["rg"])
    rows = [row("marker scan of the kernel tree (time)", med["ccm-markers"],
                "ripgrep", med["rg"], "s", False),
            row("full scan (markers+secrets+refactor) (time)", med["ccm-full"],
                "ripgrep", med["rg"], "s", False)]
    print("scan suite: %s, medians of %d warm runs" % (tree, REPEAT))
    for r in rows:
        print("  %-48s ccm %.3f s  %s %.3f s  ratio %.2fx" % (
            r["name"], r["ccm"], r["peer"], r["peer_value"], r["ratio"]))
    print("  runs: " + "; ".join("%s %s" % (k, ",".join("%.2f" % x for x in v))
                                 for k, v in samples.items()))
    print("  ccm markers: %d structured findings; rg -c: %d matching lines"
          " (also in strings and code)" % (n_ccm, n_rg))
    target = "met" if med["ccm-markers"] <= 1.5 * med["rg"] else "missed"
    print("  SPEC target (within 1.5x of ripgrep): %s" % target)
    inc = incremental_rows(tree)
    for r in inc:
        print("  %-48s ccm %.3f s  %s %.3f s  ratio %.2fx" % (
            r["name"], r["ccm"], r["peer"], r["peer_value"], r["ratio"]))
    rows += inc
    rows += leasot_rows(tree)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", "scan.json")
    with open(path, "w") as f:
        json.dump({"suite": "scan", "repeat": REPEAT, "rows": rows}, f, indent=1)
    print("wrote %s" % path)


if __name__ == "__main__":
    main()
