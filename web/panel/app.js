// app.js: the ccm control panel. Plain browser JavaScript, no build step:
// ccm serves this file, index.html, style.css and uPlot (npm, under
// /vendor/). Everything shown comes from the REST API and the WebSocket
// event stream (ccm.v1.json); text from the server is only ever inserted
// as text (textContent), never as HTML.
//
// Live updates: one WebSocket subscribed to every topic. Each event's seq
// is remembered (also across reloads, in sessionStorage); after a dropped
// connection or a server restart the panel reconnects with growing delays
// (0.5 s .. 10 s) and resumes from that seq, so it misses nothing the log
// still holds; on a resume gap it reloads the lists over REST.
'use strict';

const STATES = ['new', 'triaged', 'ready', 'running', 'review', 'failed',
  'done', 'skipped', 'blocked', 'resolved', 'rejected'];
const TOPICS = ['tasks', 'findings', 'actors', 'metrics', 'agent-output',
  'alerts', 'logs'];
const WHY = {
  new: 'Not triaged yet: the prioritizer has not scored it.',
  triaged: 'Waiting for approval: approve it here (or list its kind in ' +
    'agents.auto_approve).',
  ready: 'Approved: waiting for a free executor slot (with dry_run the ' +
    'executor only records the command it would run).',
  running: 'Running now.',
  review: 'The agent finished: its branch waits for review.',
  failed: 'The last run failed: requeue it to try again.',
  done: 'Done.',
  skipped: 'Skipped by a person: requeue it to bring it back.',
  blocked: 'Blocked: something it depends on is not ready.',
  resolved: 'Resolved: the finding is gone from the code.',
  rejected: 'Rejected in review: it comes back if the finding changes.',
};
const OUTPUT_LINES = 300;
const SAMPLES = 360;

const st = {
  tasks: new Map(),
  selected: null,
  seq: sessionStorage.getItem('ccm.seq') !== null
    ? Number(sessionStorage.getItem('ccm.seq')) : null,
  token: localStorage.getItem('ccm.token') || '',
  retry: 0,
  output: [],
  actors: new Map(),
  samples: {t: [], thr: [], ok: [], queue: []},
  lastFinished: null,
  charts: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children)
    if (c !== null && c !== undefined)
      e.append(c instanceof Node ? c : String(c));
  return e;
}

function toast(text, bad) {
  const t = $('toast');
  t.textContent = text;
  t.className = bad ? 'bad' : 'ok';
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.textContent = ''; t.className = ''; }, 6000);
}

// ------------------------------------------------------------------ REST

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (st.token) headers.Authorization = 'Bearer ' + st.token;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch('/api/v1' + path, {
    method: opts.method || 'GET', headers,
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
  });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) $('token-form').hidden = false;
  if (!res.ok) {
    const e = new Error((body.error && body.error.message) || res.statusText);
    e.status = res.status;
    e.code = body.error && body.error.code;
    throw e;
  }
  return body;
}

async function loadTasks() {
  const tasks = new Map();
  let cursor = null;
  do {
    const q = '/tasks?limit=1000' + (cursor ? '&cursor=' + cursor : '');
    const page = await api(q);
    for (const t of page.tasks) tasks.set(t.id, t);
    cursor = page.next_cursor;
  } while (cursor);
  st.tasks = tasks;
  renderBoard();
}

async function loadRepos() {
  const {repos} = await api('/repos');
  const ul = $('repos');
  ul.replaceChildren();
  for (const r of repos) {
    const status = el('span', {class: 'muted', id: 'scan-' + r.id});
    const button = el('button', {
      'data-repo': r.id,
      onclick: () => scan(r.id),
    }, 'Scan');
    ul.append(el('li', {}, el('strong', {}, r.id), ' ',
      el('span', {class: 'muted'}, r.github || r.path || ''), ' ', button,
      ' ', status));
  }
}

async function scan(repo) {
  const status = $('scan-' + repo);
  try {
    await api('/repos/' + encodeURIComponent(repo) + '/scan',
      {method: 'POST', body: {}});
    status.textContent = 'scan queued';
  } catch (e) {
    status.textContent = 'scan: ' + e.message;
    toast('scan ' + repo + ': ' + e.message, true);
  }
}

async function reloadAll() {
  try {
    await Promise.all([loadTasks(), loadRepos()]);
  } catch (e) {
    toast(e.message, true);
  }
}

// ----------------------------------------------------------------- board

function taskTitle(t) {
  return t.title || t.text || ((t.path || '?') + ':' + (t.line || 0));
}

function score(t) {
  return t.score && typeof t.score.total === 'number' ? t.score.total : 0;
}

function renderBoard() {
  const board = $('board');
  board.replaceChildren();
  const by = new Map(STATES.map((s) => [s, []]));
  for (const t of st.tasks.values())
    (by.get(t.state) || by.get('new')).push(t);
  for (const s of STATES) {
    const list = by.get(s);
    if (!list.length && (s === 'resolved' || s === 'rejected')) continue;
    list.sort((a, b) => (b.pinned - a.pinned) || (score(b) - score(a)) ||
      a.id.localeCompare(b.id));
    const col = el('div', {class: 'column', 'data-state': s},
      el('h3', {}, s, ' ', el('span', {class: 'muted'}, list.length)));
    for (const t of list) {
      const card = el('div', {
        class: 'card' + (t.id === st.selected ? ' selected' : ''),
        'data-id': t.id, tabindex: '0',
        onclick: () => select(t.id),
      },
      el('div', {class: 'card-title'}, (t.pinned ? '\u{1F4CC} ' : ''),
        taskTitle(t)),
      el('div', {class: 'card-meta'}, el('span', {class: 'kind'}, t.kind),
        ' ', t.repo, ' ', el('span', {class: 'score'}, score(t).toFixed(2))));
      col.append(card);
    }
    board.append(col);
  }
  $('task-count').textContent = st.tasks.size + ' tasks';
}

function upsertTask(t) {
  if (!t || !t.id) return;
  const old = st.tasks.get(t.id) || {};
  st.tasks.set(t.id, Object.assign(old, t));
  renderBoard();
  if (st.selected === t.id) renderDetail();
}

// ---------------------------------------------------------------- detail

async function select(id) {
  st.selected = id;
  renderBoard();
  await renderDetail();
}

async function renderDetail() {
  const id = st.selected;
  if (!id) return;
  let t;
  try {
    t = await api('/tasks/' + encodeURIComponent(id));
  } catch (e) {
    toast(e.message, true);
    return;
  }
  if (st.selected !== id) return;
  $('detail').hidden = false;
  $('d-title').textContent = taskTitle(t);
  $('d-meta').textContent = [t.id, t.kind, t.repo,
    t.path ? t.path + ':' + t.line : '', 'state: ' + t.state].join('  ·  ');
  $('d-why').textContent = (t.state === 'running' ? '' : 'Why not running: ') +
    (WHY[t.state] || '');
  const s = t.score || {};
  const rows = [['business value', s.value], ['time criticality',
    s.time_criticality], ['risk reduction', s.risk_reduction],
  ['job size', s.job_size], ['total (WSJF)', s.total]];
  $('d-score').replaceChildren(...rows.map(([k, v]) =>
    el('tr', {}, el('th', {}, k),
      el('td', {}, typeof v === 'number' ? v.toFixed(2) : '–'))));
  if (s.why) $('d-score').append(el('tr', {}, el('th', {}, 'why'),
    el('td', {}, s.why)));
  $('d-history').replaceChildren(...(t.history || []).map((h) =>
    el('li', {}, new Date(h.at || 0).toLocaleString(), ' ', h.from, ' → ',
      h.to, ' by ', h.actor || '?', h.reason ? ': ' + h.reason : '')));
  $('act-pin').textContent = t.pinned ? 'Unpin' : 'Pin';
  $('act-pin').dataset.pinned = t.pinned ? '1' : '';
  $('d-output').textContent = st.output.filter((o) => o.task === id)
    .map((o) => o.line).join('\n');
}

async function act(action) {
  const id = st.selected;
  if (!id) return;
  const body = {action};
  if (action === 'pin') body.args = {pinned: !$('act-pin').dataset.pinned};
  try {
    const t = await api('/tasks/' + encodeURIComponent(id) + '/actions',
      {method: 'POST', body});
    upsertTask(t);
    toast(action + ': ' + t.id + ' is ' + t.state);
  } catch (e) {
    toast(action + ': ' + e.message, true);
  }
}

// ------------------------------------------------------------ live stream

function setStatus(text, cls) {
  const s = $('status');
  s.textContent = text;
  s.className = 'status ' + cls;
}

function remember(seq) {
  if (typeof seq !== 'number') return;
  if (st.seq === null || seq > st.seq) st.seq = seq;
  sessionStorage.setItem('ccm.seq', String(st.seq));
  $('seq').textContent = 'seq ' + st.seq;
}

function onEvent(m) {
  remember(m.seq);
  const d = m.data || {};
  switch (m.topic) {
    case 'tasks': upsertTask(d); break;
    case 'findings':
      if (d.repo && $('scan-' + d.repo))
        $('scan-' + d.repo).textContent = d.error ? 'scan failed: ' + d.error
          : 'scanned ' + (d.files || 0) + ' files, ' + (d.findings || 0) +
          ' findings';
      break;
    case 'agent-output':
      st.output.push({task: d.task_id, line: (d.task_id || '') + ' ' +
        (d.stream === 'stderr' ? '! ' : '> ') + (d.line || '')});
      if (st.output.length > OUTPUT_LINES) st.output.shift();
      $('output').textContent = st.output.map((o) => o.line).join('\n');
      if (st.selected === d.task_id) renderDetail();
      break;
    case 'alerts': toast('alert ' + (d.rule || '') + ': ' + (d.message || ''),
      true); break;
    default: break;
  }
}

function onMessage(m) {
  if (m.type === 'event') onEvent(m);
  else if (m.type === 'subscribed') { if (st.seq === null) remember(m.seq); }
  else if (m.type === 'error') {
    toast('server: ' + m.error.message, true);
    if (m.error.code === 'resume_gap') reloadAll();
  }
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = proto + '//' + location.host + '/ws' +
    (st.token ? '?access_token=' + encodeURIComponent(st.token) : '');
  const ws = new WebSocket(url, 'ccm.v1.json');
  ws.onopen = () => {
    st.retry = 0;
    setStatus('live', 'on');
    const sub = {type: 'subscribe', topics: TOPICS};
    if (st.seq !== null) sub.resume_from = st.seq;
    ws.send(JSON.stringify(sub));
    reloadAll();
  };
  ws.onmessage = (ev) => {
    try { onMessage(JSON.parse(ev.data)); } catch (e) { /* not ours */ }
  };
  ws.onclose = () => {
    const delay = Math.min(10000, 500 * 2 ** st.retry++);
    setStatus('reconnecting in ' + Math.round(delay / 1000) + ' s', 'off');
    setTimeout(connect, delay);
  };
}

// --------------------------------------------------- runtime and charts

async function pollActors() {
  try {
    const {actors} = await api('/actors');
    const now = performance.now();
    const rows = actors.map((a) => {
      const prev = st.actors.get(a.id);
      const rate = prev ? (a.processed - prev.processed) * 1000 /
        (now - prev.at) : 0;
      st.actors.set(a.id, {processed: a.processed, at: now});
      return el('tr', {}, el('td', {}, a.name || '#' + a.id),
        el('td', {}, a.type), el('td', {}, a.mailbox_depth),
        el('td', {}, a.mailbox_high_water), el('td', {}, a.processed),
        el('td', {}, rate.toFixed(1)), el('td', {}, a.restarts));
    });
    $('actors').tBodies[0].replaceChildren(...rows);
  } catch (e) { /* the stream status says enough */ }
}

function makeChart(id, label, color) {
  const opts = {
    width: 360, height: 160, legend: {show: false},
    // At least the last minute on x, so the first samples sit at the right.
    scales: {x: {time: true, range: (u, min, max) => {
      const end = max || Date.now() / 1000;
      return [Math.min(min || end, end - 60), end];
    }}},
    series: [{}, {label, stroke: color, width: 2, spanGaps: true}],
  };
  const now = Date.now() / 1000; /* empty until two samples are in */
  return new window.uPlot(opts, [[now - 60, now], [null, null]], $(id));
}

async function sample() {
  try {
    const s = await api('/metrics/summary');
    const by = s.tasks.by_state;
    const finished = by.done + by.failed + by.review;
    const now = Date.now() / 1000;
    const smp = st.samples;
    let thr = null;
    if (st.lastFinished) thr = Math.max(0, (finished - st.lastFinished.n) *
      60 / (now - st.lastFinished.t));
    st.lastFinished = {n: finished, t: now};
    smp.t.push(now);
    smp.thr.push(thr);
    smp.ok.push(by.done + by.failed ? 100 * by.done / (by.done + by.failed)
      : null);
    smp.queue.push(by.new + by.triaged + by.ready);
    for (const k of Object.keys(smp)) if (smp[k].length > SAMPLES)
      smp[k].shift();
    if (st.charts && smp.t.length >= 2) {
      st.charts.thr.setData([smp.t, smp.thr]);
      st.charts.ok.setData([smp.t, smp.ok]);
      st.charts.queue.setData([smp.t, smp.queue]);
    }
  } catch (e) { /* retried at the next tick */ }
}

// ----------------------------------------------------------------- start

function start() {
  for (const b of document.querySelectorAll('.actions button'))
    b.addEventListener('click', () => act(b.dataset.action));
  $('detail-close').addEventListener('click', () => {
    st.selected = null;
    $('detail').hidden = true;
    renderBoard();
  });
  $('token').value = st.token;
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    st.token = $('token').value.trim();
    localStorage.setItem('ccm.token', st.token);
    $('token-form').hidden = true;
    reloadAll();
  });
  if (window.uPlot) {
    st.charts = {
      thr: makeChart('chart-throughput', 'tasks/min', '#2a7ae2'),
      ok: makeChart('chart-success', 'success %', '#2e9d4f'),
      queue: makeChart('chart-queue', 'queued', '#d9822b'),
    };
  } else {
    $('charts-section').append(el('p', {class: 'muted'},
      'Charts need uPlot: run scripts/deps.sh.'));
  }
  connect();
  pollActors();
  sample();
  setInterval(pollActors, 2000);
  setInterval(sample, 5000);
}

document.addEventListener('DOMContentLoaded', start);
