#!/usr/bin/env python3
"""bench/run web: the control plane (issue #7) from a second process.

Starts build-bench/bench/bench_web (bench/bench_web.c: a durable store in
BENCH_TMP seeded with 10,000 tasks, the web server on 127.0.0.1 port 0
with the product's defaults), then:

  REST  `wrk -t2 -c64 -d10s --latency` on GET /api/v1/health and
        GET /api/v1/tasks?limit=50: requests/s and p99 latency, beside
        Debian nginx serving, on another loopback port, a static file with
        the same bytes as ccm's answer (same wrk command, interleaved per
        repetition). nginx runs from a generated config in a temporary
        prefix (no system service, no root-owned paths, access log off)
        with one worker process, as ccm serves HTTP on one service thread;
        it is stopped afterwards.
  WS    bench/bench_ws_clients connects 1,000 clients subscribed to
        "tasks"; the server's RSS (/proc/PID/status VmRSS) is read before
        and after they connect -> RSS per idle client; then bench_web
        publishes 1,000 events/s for 10 s (web_publish: store actor, group
        commit, event log, fan-out), and the clients measure delivery
        latency (send time in the event, CLOCK_MONOTONIC on this machine)
        and the server's CPU time (utime + stime, all threads) per event
        delivered, the figure that holds on a shared machine.
        nginx has no WebSocket side: these rows stand beside the SPEC
        targets (peer "target", peer_value = the target), and beside
        bench/peers/ws_fanout_peer (build/bench/ws_fanout_peer): a minimal
        epoll server that takes the same clients and fans out frames of
        the same bytes at the same rate with the same per-client batching
        (one send per client per loop turn), with no store and no commit:
        the machine's floor for this fan-out, run right after each ccm
        round (rows "... beside the epoll peer", ratio = ccm / peer). Two
        lighter loads run the same way and show where the limit lies: 100
        clients at 1,000 events/s and 1,000 clients at 100 events/s.

BENCH_REPEAT repetitions (default 3), medians; the table and
bench/results/web.json (SPEC section 4 shape; ratio = ccm / peer_value).
Knobs: BENCH_WEB_SECONDS (wrk duration, 10), BENCH_WEB_CLIENTS (1000)
and BENCH_WEB_RATE (events/s, 1000) for the SPEC load, BENCH_WEB_PUBLISH_S
(10), BENCH_WEB_LIGHT=0 to skip the lighter loads.
"""
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(sys.argv[1])
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
TMP = os.path.abspath(os.environ.get("BENCH_TMP", BUILD))
WRK_SECONDS = int(os.environ.get("BENCH_WEB_SECONDS", "10"))
CLIENTS = int(os.environ.get("BENCH_WEB_CLIENTS", "1000"))
RATE = int(os.environ.get("BENCH_WEB_RATE", "1000"))
PUBLISH_S = int(os.environ.get("BENCH_WEB_PUBLISH_S", "10"))
# (clients, events/s): the SPEC load first, then the lighter ones.
LOADS = [(CLIENTS, RATE)]
if os.environ.get("BENCH_WEB_LIGHT", "1") != "0":
    LOADS += [(100, 1000), (1000, 100)]
TASKS = 10000
ENDPOINTS = [("health", "/api/v1/health"),
             ("tasks", "/api/v1/tasks?limit=50")]
TARGET_REST = 0.5     # ccm >= 0.5x nginx's static rate
TARGET_P99_MS = 10.0  # WebSocket delivery p99
TARGET_KB = 20.0      # RSS per idle WebSocket client


def log(msg):
    sys.stderr.write("web: %s\n" % msg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on 127.0.0.1:%d" % port)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def cpu_ticks(pid):
    """utime + stime of @pid (all its threads) and of its child processes
    still running (nginx's worker), in clock ticks."""
    total = 0
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        kids = [int(k) for k in f.read().split()]
    for p in [pid] + kids:
        with open("/proc/%d/stat" % p) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def wait_or_kill(proc, seconds):
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def http_get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=10) as r:
        return r.status, r.read()


# ------------------------------------------------------------------ servers

class FanoutPeer:
    """bench/peers/ws_fanout_peer: the WebSocket fan-out floor, driven
    over stdin as bench_web is (PORT, publish, quit)."""

    def __init__(self):
        exe = os.path.join(BUILD, "bench", "ws_fanout_peer")
        self.proc = subprocess.Popen([exe], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            raise RuntimeError("ws_fanout_peer did not start: %r" % line)
        self.port = int(line[1])

    publish = None  # set below: the same command as bench_web's

    def stop(self):
        if self.proc.poll() is None and not self.proc.stdin.closed:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            wait_or_kill(self.proc, 30)


class CcmServer:
    """bench_web: a seeded store and the web server, driven over stdin."""

    def __init__(self, no_sync=False):
        self.dir = tempfile.mkdtemp(prefix="bench-web-", dir=TMP)
        exe = os.path.join(BUILD, "bench", "bench_web")
        self.proc = subprocess.Popen(
            [exe, "--dir", self.dir, "--tasks", str(TASKS)] +
            (["--no-sync"] if no_sync else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            raise RuntimeError("bench_web did not start: %r" % line)
        self.port = int(line[1])

    def publish(self, rate, seconds):
        self.proc.stdin.write("publish %d %d\n" % (rate, seconds))
        self.proc.stdin.flush()
        parts = self.proc.stdout.readline().split()
        if len(parts) != 4 or parts[0] != "PUBLISHED":
            raise RuntimeError("bench_web publish: %r" % parts)
        return int(parts[1]), int(parts[2])

    def stop(self):
        if self.proc.poll() is None and not self.proc.stdin.closed:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            wait_or_kill(self.proc, 30)
        shutil.rmtree(self.dir, ignore_errors=True)


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/tmp/body;
  proxy_temp_path {prefix}/tmp/proxy;
  fastcgi_temp_path {prefix}/tmp/fastcgi;
  uwsgi_temp_path {prefix}/tmp/uwsgi;
  scgi_temp_path {prefix}/tmp/scgi;
  default_type application/json;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    root {prefix}/www;
  }}
}}
"""


FanoutPeer.publish = CcmServer.publish


class Nginx:
    """Debian nginx with a generated config under a temporary prefix."""

    def __init__(self, files):
        self.prefix = tempfile.mkdtemp(prefix="bench-nginx-", dir=TMP)
        os.chmod(self.prefix, 0o755)  # a root master's worker is "nobody"
        os.makedirs(os.path.join(self.prefix, "www"))
        os.makedirs(os.path.join(self.prefix, "tmp"))
        for name, body in files.items():
            with open(os.path.join(self.prefix, "www", name), "wb") as f:
                f.write(body)
            os.chmod(os.path.join(self.prefix, "www", name), 0o644)
        self.port = free_port()
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(prefix=self.prefix, port=self.port))
        self.proc = subprocess.Popen(
            ["nginx", "-p", self.prefix, "-e", self.prefix + "/error.log",
             "-c", conf], stdout=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        self.version = subprocess.run(
            ["nginx", "-v"], stderr=subprocess.PIPE, text=True,
            check=True).stderr.strip().split("/")[-1]

    def stop(self):
        self.proc.terminate()  # SIGTERM: fast shutdown of master + worker
        wait_or_kill(self.proc, 10)
        shutil.rmtree(self.prefix, ignore_errors=True)


# --------------------------------------------------------------------- wrk

def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    if not m:
        raise RuntimeError("wrk latency %r" % text)
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


def wrk(url, pid):
    """requests/s, p99 (ms), server CPU per request (us) of process @pid."""
    ticks = cpu_ticks(pid)
    out = subprocess.run(
        ["wrk", "-t2", "-c64", "-d%ds" % WRK_SECONDS, "--latency", url],
        check=True, stdout=subprocess.PIPE, text=True,
        timeout=WRK_SECONDS + 60).stdout
    ticks = cpu_ticks(pid) - ticks
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not rps or not p99 or not total:
        raise RuntimeError("wrk output not understood:\n" + out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    if bad or errs:
        log("%s: %s%s" % (url, bad.group(0) if bad else "",
                          errs.group(0) if errs else ""))
    cpu_us = ticks * 1e6 / os.sysconf("SC_CLK_TCK") / max(1, int(total.group(1)))
    return float(rps.group(1)), to_ms(p99.group(1)), cpu_us


def rest_round(ccm, nginx, samples):
    for name, path in ENDPOINTS:
        for system, url, pid in (
                ("ccm", "http://127.0.0.1:%d%s" % (ccm.port, path),
                 ccm.proc.pid),
                ("nginx", "http://127.0.0.1:%d/%s.json" % (nginx.port, name),
                 nginx.proc.pid)):
            log("wrk %s %s" % (system, url))
            samples.setdefault((system, name), []).append(wrk(url, pid))


# --------------------------------------------------------------- WebSocket

def ws_round(ccm, clients, rate, peer=False):
    """One fan-out round against @ccm (a CcmServer, or a FanoutPeer when
    @peer: no /metrics there)."""
    exe = os.path.join(BUILD, "bench", "bench_ws_clients")
    before = rss_kb(ccm.proc.pid)
    cl = subprocess.Popen([exe, str(ccm.port), str(clients)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True)
    try:
        ready = cl.stdout.readline().split()
        if not ready or ready[0] != "READY":
            raise RuntimeError("bench_ws_clients: %r" % ready)
        idle = rss_kb(ccm.proc.pid)
        expect = rate * PUBLISH_S
        cl.stdin.write("expect %d %d\n" % (expect, PUBLISH_S + 10))
        cl.stdin.flush()
        log("ws: %d clients, %d events/s for %d s" % (clients, rate, PUBLISH_S))
        ticks = cpu_ticks(ccm.proc.pid)
        sent, refused = ccm.publish(rate, PUBLISH_S)
        loaded = rss_kb(ccm.proc.pid)
        r = cl.stdout.readline().split()
        ticks = cpu_ticks(ccm.proc.pid) - ticks
        cl.wait(timeout=30)
    finally:
        if cl.poll() is None:
            wait_or_kill(cl, 0)
    if len(r) != 9 or r[0] != "RESULT":
        raise RuntimeError("bench_ws_clients result: %r" % r)
    result = {"rss_before_kb": before, "rss_idle_kb": idle,
              "rss_loaded_kb": loaded, "server": "peer" if peer else "ccm",
              "clients": clients, "rate": rate,
              "per_client_kb": (idle - before) / clients,
              "published": sent, "refused": refused,
              "expected": int(r[2]) * clients, "received": int(r[3]),
              "errors": int(r[4]), "closed": int(r[5]),
              "p50_ms": int(r[6]) / 1e3, "p99_ms": int(r[7]) / 1e3,
              "max_ms": int(r[8]) / 1e3,
              "cpu_us_per_delivery": ticks * 1e6 /
              os.sysconf("SC_CLK_TCK") / max(1, int(r[3]))}
    if peer:
        return result
    _, summary = http_get(ccm.port, "/api/v1/metrics/summary")
    ws = json.loads(summary)["websocket"]
    _, text = http_get(ccm.port, "/metrics")
    counters = dict(line.split() for line in text.decode().splitlines()
                    if line.startswith(("ccm_ws_writes_total ",
                                        "ccm_ws_frames_sent_total ")))
    # cpu_us_per_delivery: the server's CPU (all threads: publishing,
    # store, fan-out) per event delivered to a client, the figure that
    # holds on a shared machine; frames_per_write: what batching saved
    result.update({
        "slow_consumers_total": ws["slow_consumers"],
        "frames_per_write": float(counters["ccm_ws_frames_sent_total"]) /
        max(1.0, float(counters.get("ccm_ws_writes_total",
                                    counters["ccm_ws_frames_sent_total"])))})
    return result


# ------------------------------------------------------------------ report

def row(name, ccm, peer, peer_value, unit, higher):
    ratio = None
    if peer_value:
        ratio = round(ccm / peer_value, 3)
    return {"name": name, "ccm": round(ccm, 3), "peer": peer,
            "peer_value": None if peer_value is None else round(peer_value, 3),
            "ratio": ratio, "unit": unit, "higher_is_better": higher}


def rest_rows(samples, nginx_version):
    rows = []
    peer = "nginx %s (static file, 1 worker)" % nginx_version
    for name, path in ENDPOINTS:
        c = samples[("ccm", name)]
        n = samples[("nginx", name)]
        rows.append(row("GET %s requests/s" % path,
                        statistics.median(x[0] for x in c), peer,
                        statistics.median(x[0] for x in n), "req/s", True))
        rows.append(row("GET %s p99 latency" % path,
                        statistics.median(x[1] for x in c), peer,
                        statistics.median(x[1] for x in n), "ms", False))
        rows.append(row("GET %s server CPU per request" % path,
                        statistics.median(x[2] for x in c), peer,
                        statistics.median(x[2] for x in n), "us", False))
    return rows


def ws_rows(rounds):
    rows = []
    for i, (clients, rate) in enumerate(LOADS):
        rs = [r for r in rounds if (r["clients"], r["rate"]) == (clients, rate)
              and r["server"] == "ccm"]
        ps = [r for r in rounds if (r["clients"], r["rate"]) == (clients, rate)
              and r["server"] == "peer"]

        def med(key, of=None):
            return statistics.median(r[key] for r in (of or rs))
        label = "%d clients, %d events/s" % (clients, rate)
        spec = i == 0  # the SPEC load has targets; the lighter ones none
        rows += [
            row("WebSocket delivery p50 (%s)" % label, med("p50_ms"), "none",
                None, "ms", False),
            row("WebSocket delivery p99 (%s)" % label, med("p99_ms"),
                "target" if spec else "none",
                TARGET_P99_MS if spec else None, "ms", False),
            row("WebSocket events delivered (%s)" % label,
                statistics.median(r["received"] / r["expected"] for r in rs),
                "target", 1.0, "fraction", True),
            row("server CPU per event delivered (%s)" % label,
                med("cpu_us_per_delivery"), "none", None, "us", False),
        ]
        peer = "ws_fanout_peer (epoll, no store)"
        if ps:
            rows += [
                row("WebSocket delivery p50 beside the epoll peer (%s)" %
                    label, med("p50_ms"), peer, med("p50_ms", ps), "ms",
                    False),
                row("WebSocket delivery p99 beside the epoll peer (%s)" %
                    label, med("p99_ms"), peer, med("p99_ms", ps), "ms",
                    False),
                row("events delivered beside the epoll peer (%s)" % label,
                    statistics.median(r["received"] / r["expected"]
                                      for r in rs), peer,
                    statistics.median(r["received"] / r["expected"]
                                      for r in ps), "fraction", True),
                row("server CPU per event delivered beside the epoll peer "
                    "(%s)" % label, med("cpu_us_per_delivery"), peer,
                    med("cpu_us_per_delivery", ps), "us", False),
            ]
        if spec:
            rows += [
                row("RSS per idle WebSocket client (%d clients)" % clients,
                    med("per_client_kb"), "target", TARGET_KB, "KiB", False),
                row("server RSS, %d idle clients" % clients,
                    med("rss_idle_kb") / 1024, "none", None, "MiB", False),
                row("server RSS after the fan-out (%s)" % label,
                    med("rss_loaded_kb") / 1024, "none", None, "MiB", False),
            ]
    return rows


def fmt(v):
    if v is None:
        return ""
    if abs(v) >= 1e4:
        return "%.1fk" % (v / 1e3)
    if abs(v) >= 100:
        return "%.0f" % v
    return "%.3g" % v


def verdict(r):
    if r["name"].endswith("requests/s"):
        ok = r["ratio"] >= TARGET_REST
        return "%s (>= %gx nginx)" % ("met" if ok else "missed", TARGET_REST)
    if r["peer"] != "target":
        return ""
    ok = (r["ccm"] >= r["peer_value"]) if r["higher_is_better"] else \
        (r["ccm"] < r["peer_value"])
    return "met" if ok else "missed"


def print_table(rows, rounds):
    head = ["figure", "unit", "ccm", "peer", "peer value", "ccm/peer",
            "SPEC target"]
    table = [[r["name"], r["unit"], fmt(r["ccm"]), r["peer"],
              fmt(r["peer_value"]),
              "" if r["ratio"] is None else "%.2fx" % r["ratio"], verdict(r)]
             for r in rows]
    widths = [max(len(str(t[i])) for t in table + [head])
              for i in range(len(head))]
    print("web suite: medians of %d runs; wrk -t2 -c64 -d%ds --latency; "
          "store seeded with %d tasks (durable); WebSocket rows stand beside "
          "the SPEC targets (nginx has no WebSocket side)" % (
              REPEAT, WRK_SECONDS, TASKS))
    print("  ".join(h.ljust(widths[i]) for i, h in enumerate(head)))
    for t in table:
        print("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(t)))
    for i, r in enumerate(rounds):
        print("  ws run %d, %s (%d clients, %d/s): p50 %.2f ms p99 %.2f ms "
              "max %.1f ms, %d/%d "
              "delivered, %d error messages, %d closed by the server, "
              "%d publishes refused; RSS %d -> %d KiB idle -> %d KiB; "
              "%s frames per write, %.2f us CPU per delivery" % (
                  i + 1, r["server"], r["clients"], r["rate"], r["p50_ms"],
                  r["p99_ms"], r["max_ms"], r["received"],
                  r["expected"], r["errors"], r["closed"], r["refused"],
                  r["rss_before_kb"], r["rss_idle_kb"], r["rss_loaded_kb"],
                  "%.1f" % r["frames_per_write"] if "frames_per_write" in r
                  else "-", r["cpu_us_per_delivery"]))


def main():
    ccm = CcmServer()
    nginx = None
    try:
        files = {}
        for name, path in ENDPOINTS:
            status, body = http_get(ccm.port, path)
            if status != 200:
                raise RuntimeError("%s answered %d" % (path, status))
            files[name + ".json"] = body
        nginx = Nginx(files)
        samples, rounds = {}, []
        for rep in range(REPEAT):
            log("REST round %d/%d" % (rep + 1, REPEAT))
            rest_round(ccm, nginx, samples)
        nginx.stop()
        version, nginx = nginx.version, None
        ccm.stop()
        for rep in range(REPEAT):
            for clients, rate in LOADS:
                # A fresh server each round: memory a previous round's
                # clients freed would hide the per-client cost.
                log("WebSocket round %d/%d" % (rep + 1, REPEAT))
                ccm = CcmServer()
                rounds.append(ws_round(ccm, clients, rate))
                ccm.stop()
                # The floor, right after, on the same machine state.
                peer = FanoutPeer()
                try:
                    rounds.append(ws_round(peer, clients, rate, peer=True))
                finally:
                    peer.stop()
    finally:
        if nginx:
            nginx.stop()
        ccm.stop()
    rows = rest_rows(samples, version) + ws_rows(rounds)
    print_table(rows, rounds)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", "web.json")
    with open(path, "w") as f:
        json.dump({"suite": "web", "repeat": REPEAT, "rows": rows,
                   "ws_runs": rounds,
                   "response_bytes": {k: len(v) for k, v in files.items()}},
                  f, indent=1)
    print("wrote %s" % path)


if __name__ == "__main__":
    main()
