#!/usr/bin/env node
// wsdrive.js: a scripted WebSocket client for the web/ suites, driven line
// by line from a criterion test (tests/web/web_test.c).
//
// It uses npm `ws` (tests/node), a strict client: a server that breaks the
// WebSocket protocol makes it report an error instead of going along.
// stdin: one JSON command per line; stdout: one JSON event per line.
//
//   {"op":"open","name":"a","url":"ws://...","protocol":"ccm.v1.json",
//    "headers":{...}}             -> {"ev":"open","name":"a","protocol":..}
//                                  | {"ev":"rejected","name":"a",...} once,
//                                    however the server refused it
//   {"op":"send","name":"a","text":"..."}      a text frame
//   {"op":"send","name":"a","hex":"..."}       a binary frame
//   {"op":"pause","name":"a"} / {"op":"resume","name":"a"}
//                                  stop / restart reading the socket
//   {"op":"close","name":"a"}      close handshake
//   {"op":"ping","name":"a"}       -> {"ev":"pong","name":"a"}
//   {"op":"count","name":"a"}      -> {"ev":"count","name":"a","n":N}
//   {"op":"quiet","name":"a","on":true}
//                                  stop printing messages of "a" (they are
//                                  still counted and their last seq kept)
//   {"op":"last","name":"a"}       -> {"ev":"last","name":"a","seq":N}
//   {"op":"waitseq","name":"a","seq":N}
//                                  -> {"ev":"seq","name":"a","seq":M} once an
//                                  event with seq M >= N has arrived
// Server pings show as {"ev":"ping","name":"a"} (ws answers them itself).
//   {"op":"exit"}
// Messages: {"ev":"msg","name":"a","text":"..."} or {"ev":"msg","name":"a",
// "hex":"..."}; {"ev":"close","name":"a","code":N,"reason":".."}.
'use strict';
const readline = require('readline');
const WebSocket = require('ws');

const clients = new Map();
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
// The test closes our stdout when it is done with us: leave quietly.
process.stdout.on('error', () => process.exit(0));

function open(cmd) {
  const st = {n: 0, quiet: false, lastSeq: 0, waitSeq: 0, opened: false,
              refused: false};
  const ws = new WebSocket(cmd.url, cmd.protocol ? [cmd.protocol] : [], {
    headers: cmd.headers || {},
    handshakeTimeout: 10000,
    maxPayload: 64 * 1024 * 1024,
  });
  st.ws = ws;
  clients.set(cmd.name, st);
  // A connection that never opens is reported once, as "rejected",
  // whatever way the server refused it (HTTP status, reset, close).
  const refuse = (info) => {
    if (st.opened || st.refused) return;
    st.refused = true;
    out(Object.assign({ev: 'rejected', name: cmd.name}, info));
  };
  ws.on('open', () => {
    st.opened = true;
    out({ev: 'open', name: cmd.name, protocol: ws.protocol});
  });
  ws.on('unexpected-response', (req, res) => {
    refuse({status: res.statusCode});
    req.destroy();
  });
  ws.on('error', (e) => {
    if (!st.opened) refuse({message: String(e.message)});
    else out({ev: 'error', name: cmd.name, message: String(e.message)});
  });
  ws.on('pong', () => out({ev: 'pong', name: cmd.name}));
  ws.on('ping', () => out({ev: 'ping', name: cmd.name}));
  ws.on('message', (data, isBinary) => {
    st.n++;
    if (!isBinary) {
      try {
        const m = JSON.parse(data.toString());
        if (m.type === 'event' && m.seq > st.lastSeq) st.lastSeq = m.seq;
        if (st.waitSeq && st.lastSeq >= st.waitSeq) {
          st.waitSeq = 0;
          out({ev: 'seq', name: cmd.name, seq: st.lastSeq});
        }
      } catch (e) { /* reported as text anyway */ }
    }
    if (st.quiet) return;
    if (isBinary) out({ev: 'msg', name: cmd.name, hex: data.toString('hex')});
    else out({ev: 'msg', name: cmd.name, text: data.toString()});
  });
  ws.on('close', (code, reason) => {
    if (!st.opened) return refuse({code});
    out({ev: 'close', name: cmd.name, code, reason: reason.toString()});
  });
}

function run(cmd) {
  if (cmd.op === 'open') return open(cmd);
  if (cmd.op === 'exit') process.exit(0);
  const st = clients.get(cmd.name);
  if (!st) return out({ev: 'error', name: cmd.name, message: 'no such client'});
  const ws = st.ws;
  switch (cmd.op) {
    case 'send':
      if (cmd.hex !== undefined) ws.send(Buffer.from(cmd.hex, 'hex'), {binary: true});
      else ws.send(cmd.text, {binary: false});
      break;
    case 'pause': ws._socket.pause(); break;
    case 'resume': ws._socket.resume(); break;
    case 'close': ws.close(1000, 'bye'); break;
    case 'ping': ws.ping(); break;
    case 'count': out({ev: 'count', name: cmd.name, n: st.n}); break;
    case 'quiet': st.quiet = !!cmd.on; break;
    case 'last': out({ev: 'last', name: cmd.name, seq: st.lastSeq}); break;
    case 'waitseq':
      if (st.lastSeq >= cmd.seq) out({ev: 'seq', name: cmd.name, seq: st.lastSeq});
      else st.waitSeq = cmd.seq;
      break;
    default: out({ev: 'error', name: cmd.name, message: 'unknown op'});
  }
}

const rl = readline.createInterface({input: process.stdin});
rl.on('line', (line) => {
  if (!line.trim()) return;
  try { run(JSON.parse(line)); } catch (e) { out({ev: 'error', message: String(e)}); }
});
rl.on('close', () => process.exit(0));
