// fake_anthropic.mjs: a tiny stand-in for the Anthropic Messages API, for
// running the real Claude Code CLI (npm @anthropic-ai/claude-code) offline.
//
//   node fake_anthropic.mjs FILE_PATH CONTENT LOG
//
// Listens on 127.0.0.1 (port 0: the kernel picks one) and prints
// "PORT <n>" on stdout. POST /v1/messages:
//   - a request whose tools include Write and whose last message does not
//     carry a tool_result: one tool_use block, Write {file_path: FILE_PATH,
//     content: CONTENT};
//   - a request whose last message carries a tool_result: a final text;
//   - anything else (titles, summaries, quota probes): a short text.
// Streaming requests get server-sent events, others one JSON message.
// POST /v1/messages/count_tokens answers a fixed count. Every request is
// appended to LOG (method, path, model, whether tools were offered).
import http from "node:http";
import fs from "node:fs";

const [filePath, content, logPath] = process.argv.slice(2);
let seq = 0;

function log(line) {
  if (logPath) fs.appendFileSync(logPath, line + "\n");
}

function lastHasToolResult(body) {
  const msgs = body.messages || [];
  const last = msgs[msgs.length - 1];
  return !!(last && Array.isArray(last.content) &&
            last.content.some((b) => b && b.type === "tool_result"));
}

function offersWrite(body) {
  return (body.tools || []).some((t) => t && t.name === "Write");
}

function plan(body) {
  if (offersWrite(body) && !lastHasToolResult(body)) {
    return {stop: "tool_use", block: {type: "tool_use", id: `toolu_fake${++seq}`,
            name: "Write", input: {file_path: filePath, content}}};
  }
  const text = lastHasToolResult(body)
      ? "I wrote the file; the task is done." : "ok";
  return {stop: "end_turn", block: {type: "text", text}};
}

function usage(out) {
  return {input_tokens: 120, output_tokens: out, cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0};
}

function sse(res, event, data) {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function streamReply(res, body, p) {
  const id = `msg_fake${++seq}`;
  res.writeHead(200, {"content-type": "text/event-stream",
                      "cache-control": "no-cache", "request-id": `req_${id}`});
  sse(res, "message_start", {type: "message_start", message: {
      id, type: "message", role: "assistant", model: body.model, content: [],
      stop_reason: null, stop_sequence: null, usage: usage(1)}});
  const start = p.block.type === "text" ? {type: "text", text: ""}
      : {type: "tool_use", id: p.block.id, name: p.block.name, input: {}};
  sse(res, "content_block_start", {type: "content_block_start", index: 0,
                                   content_block: start});
  const delta = p.block.type === "text"
      ? {type: "text_delta", text: p.block.text}
      : {type: "input_json_delta", partial_json: JSON.stringify(p.block.input)};
  sse(res, "content_block_delta", {type: "content_block_delta", index: 0, delta});
  sse(res, "content_block_stop", {type: "content_block_stop", index: 0});
  sse(res, "message_delta", {type: "message_delta",
      delta: {stop_reason: p.stop, stop_sequence: null}, usage: {output_tokens: 30}});
  sse(res, "message_stop", {type: "message_stop"});
  res.end();
}

function jsonReply(res, status, obj) {
  res.writeHead(status, {"content-type": "application/json"});
  res.end(JSON.stringify(obj));
}

const server = http.createServer((req, res) => {
  let raw = "";
  req.on("data", (c) => { raw += c; });
  req.on("end", () => {
    let body = {};
    try { body = raw ? JSON.parse(raw) : {}; } catch { body = {}; }
    const path = req.url.split("?")[0];
    log(`${req.method} ${path} model=${body.model || "-"} ` +
        `tools=${offersWrite(body) ? "write" : "none"} ` +
        `stream=${!!body.stream} tool_result=${lastHasToolResult(body)}`);
    if (req.method === "POST" && path === "/v1/messages/count_tokens")
      return jsonReply(res, 200, {input_tokens: 120});
    if (req.method !== "POST" || path !== "/v1/messages")
      return jsonReply(res, 404, {type: "error",
          error: {type: "not_found_error", message: "not here"}});
    const p = plan(body);
    if (body.stream) return streamReply(res, body, p);
    jsonReply(res, 200, {id: `msg_fake${++seq}`, type: "message",
        role: "assistant", model: body.model, content: [p.block],
        stop_reason: p.stop, stop_sequence: null, usage: usage(30)});
  });
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
