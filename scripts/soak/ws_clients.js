#!/usr/bin/env node
// ws_clients.js URL N: the soak's WebSocket load (scripts/soak.sh).
//
// Opens N clients (npm `ws`, from tests/node) on URL with subprotocol
// ccm.v1.json, each subscribed to the `tasks` and `findings` topics, and
// counts per client the events received and the errors: a client that
// fails to open, an error message from the server other than
// slow_consumer, an error on the socket, a close the script did not ask
// for, or an event whose seq does not increase. A client told
// slow_consumer (its queue overflowed: one node process reading 100
// sockets falls behind the first scan's burst) does what the protocol asks
// (web/README.md): it reconnects with resume_from = the last seq it got,
// so it still sees every event once; those reconnections are counted
// apart. On SIGTERM (or SIGINT) it closes every client and prints one
// JSON line:
//   {"clients":N,"opened":N,"events":[...per client...],"errors":E,
//    "resumes":R,"first_errors":["..."]}
'use strict';
const WebSocket = require('ws');

const url = process.argv[2];
const n = Number(process.argv[3] || 100);
const clients = [];
let errors = 0;
let resumes = 0;
const firstErrors = [];
let stopping = false;

function error(i, what) {
  errors++;
  if (firstErrors.length < 10) firstErrors.push(`client ${i}: ${what}`);
}

function connect(i, st) {
  const ws = new WebSocket(url, ['ccm.v1.json'], {handshakeTimeout: 30000});
  st.ws = ws;
  st.slow = false;
  ws.on('open', () => {
    st.opened = true;
    const sub = {type: 'subscribe', topics: ['tasks', 'findings']};
    if (st.lastSeq) sub.resume_from = st.lastSeq;
    ws.send(JSON.stringify(sub));
  });
  ws.on('message', (data) => {
    let m;
    try { m = JSON.parse(data.toString()); } catch (e) { return error(i, 'bad JSON'); }
    if (m.type === 'event') {
      st.events++;
      if (m.seq <= st.lastSeq) error(i, `seq ${m.seq} after ${st.lastSeq}`);
      st.lastSeq = m.seq;
    } else if (m.type === 'error' && m.error && m.error.code === 'slow_consumer') {
      st.slow = true;
    } else if (m.type === 'error') {
      error(i, `server error ${JSON.stringify(m.error)}`);
    }
  });
  ws.on('error', (e) => error(i, `socket error ${e.message}`));
  ws.on('close', (code) => {
    if (stopping) return;
    if (st.slow && code === 1008) {
      resumes++;
      return connect(i, st);
    }
    error(i, `closed ${code}`);
  });
}

function open(i) {
  const st = {events: 0, lastSeq: 0, opened: false};
  clients.push(st);
  connect(i, st);
}

function finish() {
  if (stopping) return;
  stopping = true;
  for (const c of clients) c.ws.terminate();
  const opened = clients.filter((c) => c.opened).length;
  for (let i = 0; i < clients.length; i++)
    if (!clients[i].opened) error(i, 'never opened');
  process.stdout.write(JSON.stringify({
    clients: n, opened, events: clients.map((c) => c.events), errors,
    resumes, first_errors: firstErrors,
  }) + '\n', () => process.exit(0));
}

for (let i = 0; i < n; i++) open(i);
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
