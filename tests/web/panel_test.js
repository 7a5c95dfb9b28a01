#!/usr/bin/env node
// panel_test.js: the control panel in headless Chromium (Debian chromium,
// npm playwright-core), driven step by step from tests/web/test_panel.c.
//
//   node panel_test.js URL
// stdout: one JSON event per line: {"ev":"live"}, {"ev":"card","id":..},
// {"ev":"approved"}, {"ev":"shot","path":..}, {"ev":"waiting"},
// {"ev":"resumed"}, or {"ev":"fail","message":..} (then exit 1).
// stdin: {"op":"restarted"} once the server is back (after "waiting").
// Env: CHROMIUM (the browser), PANEL_SHOT (where the screenshot goes).
// Any page error or console error (a CSP violation, say) fails the run.
'use strict';
const readline = require('readline');
const {chromium} = require('playwright-core');

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
process.stdout.on('error', () => process.exit(0));
const url = process.argv[2];
const WAIT = 20000;

const lines = [];
let wake = null;
readline.createInterface({input: process.stdin}).on('line', (l) => {
  lines.push(JSON.parse(l));
  if (wake) wake();
});
async function nextCommand() {
  while (!lines.length) await new Promise((r) => { wake = r; });
  return lines.shift();
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu',
      '--disable-background-networking', '--disable-component-update',
      '--no-first-run'],
  });
  const problems = [];
  try {
    const page = await browser.newPage({viewport: {width: 1400, height: 900}});
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('console', (m) => {
      // The reconnect after the restart logs a refused WebSocket: expected.
      if (m.type() === 'error' && !/WebSocket|ERR_CONNECTION_REFUSED/.test(m.text()))
        problems.push('console: ' + m.text());
    });
    await page.goto(url);
    await page.waitForSelector('#status.on', {timeout: WAIT});
    await page.waitForSelector('.column[data-state="triaged"]', {timeout: WAIT});
    if (await page.$('.card')) throw new Error('the board is not empty');
    out({ev: 'live'});

    await page.click('button[data-repo="demo"]');
    await page.waitForSelector('.card[data-id="p1"]', {timeout: WAIT});
    out({ev: 'card', id: 'p1'});

    await page.click('.card[data-id="p1"]');
    await page.waitForSelector('#detail:not([hidden])', {timeout: WAIT});
    await page.waitForFunction(() =>
      document.getElementById('d-why').textContent.includes('approval'),
    null, {timeout: WAIT});
    await page.click('#act-run');
    await page.waitForSelector('.column[data-state="ready"] .card[data-id="p1"]',
      {timeout: WAIT});
    out({ev: 'approved'});

    await page.waitForFunction(() =>
      document.querySelectorAll('#actors tbody tr').length > 0,
    null, {timeout: WAIT});
    const shot = process.env.PANEL_SHOT || 'panel.png';
    await page.screenshot({path: shot, fullPage: true});
    out({ev: 'shot', path: shot});
    if (problems.length) throw new Error(problems.join('; '));

    out({ev: 'waiting'});
    const cmd = await nextCommand();
    if (cmd.op !== 'restarted') throw new Error('unexpected command');
    await page.waitForSelector('.card[data-id="p4"]', {timeout: WAIT});
    await page.waitForSelector('#status.on', {timeout: WAIT});
    if (problems.length) throw new Error(problems.join('; '));
    out({ev: 'resumed'});
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), (e) => {
  out({ev: 'fail', message: String(e && e.message || e)});
  process.exit(1);
});
