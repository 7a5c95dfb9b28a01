#!/usr/bin/env python3
"""bench/run daemon: `ccm serve` as a process, beside peers in the same run.

    python3 bench/run_daemon.py BUILD_DIR      (bench/run daemon calls it)

Figures (medians of BENCH_REPEAT runs, default 3):
  - cold start to ready (ms): from spawn to the sd_notify READY=1 datagram
    (the script binds NOTIFY_SOCKET as systemd would), and from spawn to
    the first 200 of GET /api/v1/health. Peers: nginx (daemon off, one
    worker) from spawn to its first 200, redis-server to its first PONG,
    and `python3 -c pass` (an interpreter that starts and exits) as a
    floor that serves nothing.
  - idle RSS (KiB): VmRSS once the start-up scan of a one-file repository
    is over and the RSS stays put for a second. Peers: nginx (master +
    worker), redis-server (empty).
  - with 100k tasks (KiB, ms): the store seeded with 100,000 tasks by
    bench_seed (through store/, as the daemon writes them), `ccm serve` on it,
    then GET /api/v1/tasks paged through every task (the ranked index,
    1,000 a page) once the start-up ranking settled; RSS after it settles
    (also its anonymous part: the rest is LMDB's file mapped in, which
    the kernel may drop), and the cold start on that store.
    Peer: redis-server holding the same 100,000 task JSONs (as `ccm tasks
    --json` prints them, the REST shape) in hashes plus a sorted set by
    score, the usual way to keep a ranked list in memory.
Writes bench/results/daemon.json ({"suite","rows":[{"name","ccm","peer",
"peer_value","ratio","unit","higher_is_better"}]}).
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
TASKS = int(os.environ.get("BENCH_DAEMON_TASKS", "100000"))
HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    sys.stderr.write("daemon: %s\n" % msg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid, field="VmRSS:"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def tree_rss_kb(pid):
    """RSS of @pid and its children (nginx: master + workers)."""
    total = rss_kb(pid)
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            for child in f.read().split():
                total += rss_kb(int(child))
    except OSError:
        pass
    return total


def settled_rss(pid, quiet_s=1.0, limit_s=60.0):
    """VmRSS once it changed by < 1% over @quiet_s (sampled every 100 ms)."""
    start = time.monotonic()
    last, since = tree_rss_kb(pid), time.monotonic()
    while time.monotonic() - start < limit_s:
        time.sleep(0.1)
        now = tree_rss_kb(pid)
        if abs(now - last) > last / 100:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return now
    return last


def http_status(url, token=None, timeout=2.0):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except Exception:
        return 0


def wait_http_200(url, proc, limit_s=60.0):
    t_end = time.monotonic() + limit_s
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (url, proc.returncode))
        if http_status(url, timeout=0.5) == 200:
            return
        time.sleep(0.002)
    raise RuntimeError("no 200 from %s" % url)


def stop(proc, sig_term=True):
    if proc.poll() is None:
        proc.terminate() if sig_term else proc.kill()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------- ccm

class Ccm:
    """One `ccm serve` with its own notify socket."""

    def __init__(self, build, work, data, tag):
        self.exe = os.path.join(build, "app", "ccm")
        self.work, self.data = work, data
        self.sock_path = os.path.join(work, "notify-%s" % tag)
        self.cfg = os.path.join(work, "ccm-%s.yaml" % tag)
        with open(self.cfg, "w") as f:
            f.write("listen: 127.0.0.1:0\n"
                    "data_dir: %s\n"
                    "repos:\n  - path: %s\n    scan_interval: off\n"
                    "agents:\n  dry_run: true\n"
                    "log:\n  level: warn\n" % (data, os.path.join(work, "repo")))
        self.proc = None
        self.port = 0

    def start(self, started):
        """Spawn (added to @started); returns (ms to READY=1, ms to the
        first health 200)."""
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(self.sock_path)
        sock.settimeout(120)
        env = dict(os.environ, NOTIFY_SOCKET=self.sock_path)
        env.pop("CCM_TOKEN", None)
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [self.exe, "serve", "--config", self.cfg],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        started.append(self.proc)
        ready = None
        try:
            while ready is None:
                msg = sock.recv(4096).decode()
                for line in msg.split("\n"):
                    if line == "READY=1":
                        ready = (time.monotonic() - t0) * 1000
                    elif line.startswith("STATUS=") and "http://" in line:
                        self.port = int(line.rsplit(":", 1)[1].strip("/ "))
        finally:
            sock.close()
            os.unlink(self.sock_path)
        wait_http_200(self.url("/api/v1/health"), self.proc)
        http_ms = (time.monotonic() - t0) * 1000
        return ready, http_ms

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def page_all_tasks(self):
        """GET /api/v1/tasks through every page; returns the tasks."""
        tasks, cursor = [], None
        while True:
            path = "/api/v1/tasks?limit=1000"
            if cursor:
                path += "&cursor=" + cursor
            with urllib.request.urlopen(self.url(path), timeout=60) as r:
                body = json.load(r)
            tasks.extend(body["tasks"])
            cursor = body.get("next_cursor")
            if not cursor:
                return tasks

    def stop(self):
        stop(self.proc)


def seed_store(build, data, n):
    """n tasks in a fresh durable store at @data (bench_seed)."""
    exe = os.path.join(build, "bench", "bench_seed")
    os.makedirs(data, exist_ok=True)
    out = subprocess.run([exe, "--dir", data, "--tasks", str(n)],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0 or not out.stdout.startswith("SEEDED"):
        raise RuntimeError("bench_seed: %s" % out.stderr)


def all_tasks(build, data):
    out = subprocess.run([os.path.join(build, "app", "ccm"), "tasks",
                          "--json", "--data", data],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError("ccm tasks: %s" % out.stderr)
    return [json.loads(line) for line in out.stdout.splitlines() if line]


# ----------------------------------------------------------------- peers

def nginx_start(work, started):
    port = free_port()
    root = os.path.join(work, "nginx")
    os.makedirs(os.path.join(root, "html"), exist_ok=True)
    with open(os.path.join(root, "html", "index.html"), "w") as f:
        f.write("ok\n")
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
worker_processes 1;
pid %(r)s/nginx.pid;
error_log %(r)s/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %(r)s/tmp; proxy_temp_path %(r)s/tmp;
  fastcgi_temp_path %(r)s/tmp; uwsgi_temp_path %(r)s/tmp;
  scgi_temp_path %(r)s/tmp;
  server { listen 127.0.0.1:%(p)d; root %(r)s/html; }
}
""" % {"r": root, "p": port})
    t0 = time.monotonic()
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", root],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    started.append(proc)
    wait_http_200("http://127.0.0.1:%d/" % port, proc)
    return proc, (time.monotonic() - t0) * 1000


def redis_start(started):
    port = free_port()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(proc)
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), 1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("redis-server exited")
            time.sleep(0.002)
    return proc, port, (time.monotonic() - t0) * 1000


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def redis_load(port, tasks):
    """HSET task:<id> json <task>, ZADD ranked <score> <id>, pipelined."""
    buf = bytearray()
    for t in tasks:
        buf += resp("HSET", "task:" + t["id"], "json", json.dumps(t))
        score = t.get("score", 0)
        if isinstance(score, dict):  # the breakdown: its total ranks
            score = score.get("total", 0)
        buf += resp("ZADD", "ranked", score, t["id"])
    p = subprocess.run(["redis-cli", "-p", str(port), "--pipe"],
                       input=bytes(buf), capture_output=True, timeout=300)
    if p.returncode != 0 or b"errors: 0" not in p.stdout:
        raise RuntimeError("redis-cli --pipe: %s %s" % (
            p.stdout.decode()[-400:], p.stderr.decode()[-400:]))


def python_start_ms():
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.monotonic() - t0) * 1000


# ------------------------------------------------------------ one round

def one_round(build, work, seeded):
    """One measurement of everything; every process it started is stopped,
    also when a step fails."""
    started = []
    try:
        return measure(build, work, seeded, started)
    finally:
        for p in started:
            stop(p)


def measure(build, work, seeded, started):
    r = {}
    shutil.rmtree(os.path.join(work, "data-idle"), ignore_errors=True)
    ccm = Ccm(build, work, os.path.join(work, "data-idle"), "idle")
    r["ccm_ready_ms"], r["ccm_http_ms"] = ccm.start(started)
    r["ccm_idle_kb"] = settled_rss(ccm.proc.pid)
    ccm.stop()

    # A fresh copy each round: the daemon re-ranks and so rewrites the
    # tasks it finds, and each round must start from the same store.
    store = os.path.join(work, "data-100k-run")
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(seeded, store)
    big = Ccm(build, work, store, "big")
    r["ccm_ready_100k_ms"], _ = big.start(started)
    # Let the start-up work (the prioritizer ranking every task, the scan)
    # finish before paging: a task re-ranked mid-listing moves across the
    # cursor.
    settled_rss(big.proc.pid)
    tasks = big.page_all_tasks()
    r["tasks_listed"] = len(tasks)
    r["ccm_100k_kb"] = settled_rss(big.proc.pid)
    # The part of it that is the store's file mapped in (LMDB pages the
    # listing touched; the kernel drops them under memory pressure).
    r["ccm_100k_file_kb"] = rss_kb(big.proc.pid, "RssFile:")
    r["ccm_100k_anon_kb"] = rss_kb(big.proc.pid, "RssAnon:")
    big.stop()
    # The peer gets every task, as `ccm tasks --json` prints them (the REST
    # shape), whatever the paged listing returned.
    tasks = all_tasks(build, store)
    r["tasks_stored"] = len(tasks)

    ngx, r["nginx_ms"] = nginx_start(work, started)
    r["nginx_idle_kb"] = settled_rss(ngx.pid)
    stop(ngx)

    red, port, r["redis_ms"] = redis_start(started)
    r["redis_idle_kb"] = settled_rss(red.pid)
    redis_load(port, tasks)
    r["redis_100k_kb"] = settled_rss(red.pid)
    stop(red)

    r["python_ms"] = python_start_ms()
    return r


def row(name, ccm, peer, peer_value, unit, higher=False):
    ratio = ccm / peer_value if peer_value else None
    return {"name": name, "ccm": round(ccm, 2), "peer": peer,
            "peer_value": round(peer_value, 2),
            "ratio": round(ratio, 3) if ratio else None, "unit": unit,
            "higher_is_better": higher}


def rows_of(m):
    return [
        row("cold start to READY=1", m["ccm_ready_ms"], "nginx (first 200)",
            m["nginx_ms"], "ms"),
        row("cold start to first health 200", m["ccm_http_ms"],
            "nginx (first 200)", m["nginx_ms"], "ms"),
        row("cold start to first health 200", m["ccm_http_ms"],
            "redis-server (first PONG)", m["redis_ms"], "ms"),
        row("cold start to READY=1", m["ccm_ready_ms"],
            "python3 -c pass (start+exit)", m["python_ms"], "ms"),
        row("idle RSS", m["ccm_idle_kb"], "nginx (master+worker)",
            m["nginx_idle_kb"], "KiB"),
        row("idle RSS", m["ccm_idle_kb"], "redis-server (empty)",
            m["redis_idle_kb"], "KiB"),
        row("RSS with %dk tasks stored and ranked" % (TASKS // 1000),
            m["ccm_100k_kb"], "redis-server (same tasks, hash+zset)",
            m["redis_100k_kb"], "KiB"),
        row("RSS with %dk tasks, anonymous part" % (TASKS // 1000),
            m["ccm_100k_anon_kb"], "redis-server (same tasks, hash+zset)",
            m["redis_100k_kb"], "KiB"),
        row("cold start to READY=1, %dk tasks" % (TASKS // 1000),
            m["ccm_ready_100k_ms"], "nginx (first 200)", m["nginx_ms"], "ms"),
    ]


def print_table(rows):
    print("%-42s %12s  %-38s %12s %8s" % ("figure", "ccm", "peer",
                                         "peer value", "ratio"))
    for r in rows:
        print("%-42s %10.1f %s  %-38s %10.1f %s %7.2fx" % (
            r["name"], r["ccm"], r["unit"][:2], r["peer"], r["peer_value"],
            r["unit"][:2], r["ratio"] or 0))
    print("(ratio = ccm / peer; lower is better for every row)")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: run_daemon.py BUILD_DIR")
    build = os.path.abspath(sys.argv[1])
    for tool in ("nginx", "redis-server", "redis-cli"):
        if not shutil.which(tool):
            sys.exit("daemon: %s is missing (scripts/deps.sh --bench)" % tool)
    work = tempfile.mkdtemp(prefix="ccm-bench-daemon-",
                            dir=os.environ.get("BENCH_TMP"))
    # nginx's worker runs as an unprivileged user when started by root: it
    # must be able to read its document root below this directory.
    os.chmod(work, 0o755)
    try:
        os.makedirs(os.path.join(work, "repo"))
        with open(os.path.join(work, "repo", "a.c"), "w") as f:
            f.write("/* TODO: the only marker */\nint a;\n")
        seeded = os.path.join(work, "data-100k")
        log("seeding %d tasks" % TASKS)
        seed_store(build, seeded, TASKS)
        rounds = []
        for i in range(REPEAT):
            log("round %d/%d" % (i + 1, REPEAT))
            rounds.append(one_round(build, work, seeded))
        med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        if med["tasks_listed"] < med["tasks_stored"]:
            log("warning: GET /api/v1/tasks paged %d of the %d tasks stored"
                % (med["tasks_listed"], med["tasks_stored"]))
        rows = rows_of(med)
        print_table(rows)
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        path = os.path.join(HERE, "results", "daemon.json")
        with open(path, "w") as f:
            json.dump({"suite": "daemon", "repeat": REPEAT, "tasks": TASKS,
                       "rows": rows, "runs": rounds}, f, indent=1)
        print("wrote %s" % path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
