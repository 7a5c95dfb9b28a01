// webhook_peer.js: the peer of `bench/run webhook` (bench/run_webhook.py):
// a minimal Node.js http server that does what a webhook receiver must do
// before it answers: read the raw body, check X-Hub-Signature-256 (HMAC-
// SHA256 of the body with the shared secret, constant-time compare), parse
// the JSON, remember the X-GitHub-Delivery id in memory (a redelivery is a
// duplicate), and answer 202 with a small JSON body. It persists nothing
// and hands nothing on, so it is a floor for the HTTP + HMAC part alone.
//
//   node webhook_peer.js SECRET   -> prints "PORT n", serves 127.0.0.1
"use strict";
const http = require("http");
const crypto = require("crypto");

const secret = process.argv[2];
const seen = new Set();

function answer(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {"Content-Type": "application/json",
                         "Content-Length": Buffer.byteLength(body)});
  res.end(body);
}

function verified(sig, body) {
  if (typeof sig !== "string" || !/^sha256=[0-9a-f]{64}$/i.test(sig))
    return false;
  const want = crypto.createHmac("sha256", secret).update(body).digest();
  return crypto.timingSafeEqual(want, Buffer.from(sig.slice(7), "hex"));
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    if (!verified(req.headers["x-hub-signature-256"], body))
      return answer(res, 401, {error: {code: "unauthorized"}});
    let payload;
    try { payload = JSON.parse(body); } catch (e) { payload = null; }
    if (!payload || typeof payload !== "object")
      return answer(res, 400, {error: {code: "bad_request"}});
    const id = req.headers["x-github-delivery"];
    const dup = id && seen.has(id);
    if (id && !dup) seen.add(id);
    answer(res, 202, {status: dup ? "duplicate" : "accepted",
                      event: req.headers["x-github-event"] || ""});
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write("PORT " + server.address().port + "\n");
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
