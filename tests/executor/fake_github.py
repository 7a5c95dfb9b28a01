#!/usr/bin/env python3
"""fake_github.py: a small GitHub REST stand-in on 127.0.0.1 for the
executor's publishing and github-mention tests.

Usage: fake_github.py LOGFILE
Binds 127.0.0.1:0, prints the port on one line, and serves until its stdin
closes (the test that started it ended or closed the pipe) or SIGTERM.
Every request is appended to LOGFILE as one JSON object per line
{"method", "path", "authorization", "accept", "content_type", "body"}
(body parsed as JSON when it is JSON) before it is answered, so a test
that has the answer has the log line too.

Answers, shaped like GitHub's:
  POST /repos/O/N/pulls                 201 a pull request (number 42); 422
                                        "A pull request already exists"
                                        when the head branch ends in "-dup"
  POST /repos/O/N/issues/K/comments     201 a comment (id 9001)
  anything else                         404 {"message": "Not Found"}
"""
import json
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]
WEB = "https://github.example"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-RateLimit-Remaining", "4999")
        self.send_header("X-RateLimit-Reset", "4102444800")
        self.send_header("X-RateLimit-Resource", "core")
        self.end_headers()
        self.wfile.write(data)

    def record(self, body):
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        entry = {"method": self.command, "path": self.path,
                 "authorization": self.headers.get("Authorization"),
                 "accept": self.headers.get("Accept"),
                 "content_type": self.headers.get("Content-Type"),
                 "body": parsed}
        with open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")
        return parsed

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.record(self.rfile.read(n) if n else b"")
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/pulls", self.path)
        if self.command == "POST" and m and isinstance(body, dict):
            head = body.get("head", "")
            if head.endswith("-dup"):
                self.answer(422, {"message": "Validation Failed", "errors": [
                    {"message": "A pull request already exists for %s." % head}]})
                return
            self.answer(201, {
                "number": 42, "state": "open", "merged": False,
                "draft": bool(body.get("draft")),
                "html_url": "%s/%s/%s/pull/42" % (WEB, m[1], m[2]),
                "title": body.get("title"),
                "head": {"ref": head, "sha": "0" * 40},
                "base": {"ref": body.get("base")}})
            return
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues/(\d+)/comments",
                         self.path)
        if self.command == "POST" and m:
            self.answer(201, {
                "id": 9001, "body": (body or {}).get("body"),
                "user": {"login": "ccm-bot", "type": "User"},
                "html_url": "%s/%s/%s/issues/%s#issuecomment-9001"
                            % (WEB, m[1], m[2], m[3])})
            return
        self.answer(404, {"message": "Not Found"})

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    def watch_stdin():
        sys.stdin.buffer.read()  # returns at EOF
        stop()

    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=watch_stdin, daemon=True).start()
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
