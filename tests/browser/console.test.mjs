// Drives the earshot console in headless Chromium against a running
// `earshot serve` (started by tests/integration/test_console_browser.sh):
// sign in, watch mentions arrive live, claim, two public replies (the second
// inviting a DM), a third refused with fears_reply_limit, hostile post text
// rendered inert, the CSP header, a screenshot, sign out.
//
// Environment:
//   ES_CONSOLE_URL   http://127.0.0.1:PORT (required)
//   ES_TOKEN         an agent token (required)
//   ES_READY_FILE    written once signed in with an empty queue; the harness
//                    then starts the platform so that mentions arrive live
//   ES_EXPECT        number of mentions the replay produces (default 6)
//   ES_SCREENSHOT    where to save the screenshot (default ./console.png)
//   CHROMIUM         browser binary (default /usr/bin/chromium)
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.ES_CONSOLE_URL;
const token = process.env.ES_TOKEN;
const readyFile = process.env.ES_READY_FILE || '';
const expect = Number(process.env.ES_EXPECT || 6);
const shot = resolve(process.env.ES_SCREENSHOT || 'console.png');
const STEP_MS = 20000;

if (!base || !token) {
  console.error('console.test: ES_CONSOLE_URL and ES_TOKEN must be set');
  process.exit(2);
}

let passed = 0;
let browser = null;
let page = null;
const dialogs = [];
const cspErrors = [];
const pageErrors = [];

const t0 = Date.now();
function ok(name) { passed++; console.log(`ok   ${name} [${((Date.now() - t0) / 1000).toFixed(1)} s]`); }
class Failure extends Error {}
function fail(name, detail) { throw new Failure(`FAIL ${name}${detail ? `: ${detail}` : ''}`); }
function check(cond, name, detail) { if (!cond) fail(name, detail); ok(name); }

// A hard cap on the whole run: a hung browser must not hang ctest.
const killer = setTimeout(() => {
  console.error('FAIL the browser test did not finish within 180 s');
  process.exit(1);
}, 180000);

async function run() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
           '--disable-background-networking'],
    timeout: 30000,
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: 'en-US' });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    const t = m.text();
    if (/Content Security Policy|Refused to (execute|apply|load|connect)/i.test(t)) cspErrors.push(t);
  });

  // --- the page and its headers ---
  const res = await page.goto(base + '/', { waitUntil: 'domcontentloaded' });
  check(res && res.status() === 200, 'GET / answers 200', res && String(res.status()));
  const csp = (res.headers()['content-security-policy'] || '');
  check(/default-src 'self'/.test(csp) && /script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp),
        'the console is served with a strict Content-Security-Policy', csp || '(none)');
  const nosniff = res.headers()['x-content-type-options'] || '';
  if (nosniff) ok('X-Content-Type-Options: ' + nosniff);

  // --- sign in ---
  await page.getByTestId('token-input').fill('not-a-token');
  await page.getByTestId('signin-button').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=signin-error]').textContent.length > 0);
  check(await page.getByTestId('signin').isVisible(), 'a bad token is refused with a message',
        await page.getByTestId('signin-error').textContent());
  await page.getByTestId('token-input').fill(token);
  await page.getByTestId('signin-button').click();
  await page.getByTestId('me').filter({ hasText: /\S/ }).waitFor();
  const me = (await page.getByTestId('me').textContent()).trim();
  const agent = me.replace(/\s*\(.*\)$/, '');
  check(agent.length > 0, `signed in as ${me}`);
  check(await page.evaluate(() => sessionStorage.getItem('earshot.token') !== null),
        'the token is kept in sessionStorage');
  await page.waitForFunction(() => document.querySelector('[data-testid=live-status]').textContent === 'live');
  ok('the event stream is connected');
  const before = await page.getByTestId('mention-row').count();

  // --- mentions arrive live (the harness starts the platform only now) ---
  if (readyFile) writeFileSync(readyFile, 'ready\n');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=mention-row]').length >= n,
                             expect, { timeout: 60000 });
  const after = await page.getByTestId('mention-row').count();
  check(after >= expect && (!readyFile || before === 0),
        `mentions arrived live without a reload (${before} -> ${after})`);

  // the queue is in priority order (the server's order) and badges are shown
  const platforms = await page.getByTestId('badge-platform').allTextContents();
  check(platforms.length >= expect && platforms.every((p) => /^(twitter|weibo|wechat)$/.test(p)),
        'every row has a platform badge', platforms.join(','));
  check(await page.getByTestId('badge-fence').count() >= 1, 'a geo-fenced mention shows its fence badge');
  const sla1 = await page.getByTestId('row-sla').first().textContent();
  await page.waitForTimeout(2200);
  const sla2 = await page.getByTestId('row-sla').first().textContent();
  check(sla1 !== sla2 && /left|overdue/.test(sla2), `SLA countdowns tick (${sla1} -> ${sla2})`);

  // --- hostile post text is inert ---
  const hostile = page.getByTestId('mention-row').filter({ hasText: '<script>alert(1)</script>' });
  check(await hostile.count() === 1, 'the hostile post is listed with its markup as literal text');
  check(await page.locator('#queue img, #queue script, #queue svg').count() === 0,
        'no element was made from the post text in the queue');
  check(await hostile.getByText('Dana <b>Whitfield</b>', { exact: false }).count() === 1,
        'a hostile author name is shown as text');

  // --- a Chinese post: spans (UTF-8 byte offsets) land on the right characters ---
  const zh = page.getByTestId('mention-row').filter({ hasText: '星巴克西单店' });
  await zh.click();
  await page.getByTestId('post-text').filter({ hasText: '星巴克西单店' }).waitFor();
  const zhMarks = await page.getByTestId('post-text').getByTestId('span-mark').allTextContents();
  check(zhMarks.includes('星巴克') && zhMarks.includes('等了四十分钟'),
        'Chinese matched spans are highlighted exactly', zhMarks.join('|'));

  // --- the hostile mention: detail, claim, replies ---
  await hostile.click();
  const post = page.getByTestId('post-text');
  await post.filter({ hasText: '<script>alert(1)</script>' }).waitFor();
  check((await post.textContent()).includes('<img src=x onerror=alert(1)>'),
        'the detail shows the literal <script> and <img> text');
  check(await page.locator('[data-testid=post-text] img, [data-testid=post-text] script, [data-testid=post-text] svg').count() === 0,
        'no img, script or svg element inside the post');
  const marks = await post.getByTestId('span-mark').allTextContents();
  check(marks.includes('@united') && marks.includes('#fail'), 'matched spans are highlighted', marks.join('|'));

  const suggestions = page.getByTestId('suggestion');
  await page.waitForTimeout(500);
  if (await suggestions.count() > 0) {
    const t = (await suggestions.first().textContent());
    await suggestions.first().click();
    check(await page.getByTestId('reply-text').inputValue() === t, 'a template suggestion fills the reply box');
  } else {
    console.log('note no template suggestions for this category');
  }

  await page.getByTestId('claim').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=action-result]').dataset.reason);
  check(await page.getByTestId('action-result').getAttribute('data-reason') === 'ok', 'claim accepted',
        await page.getByTestId('action-result').textContent());
  await page.getByTestId('detail-holder').filter({ hasText: `held by ${agent}` }).waitFor();
  ok('the detail shows who holds the mention');
  await page.getByTestId('row-holder').filter({ hasText: `held by ${agent}` }).first().waitFor();
  ok('the queue shows who holds the mention');

  async function reply(text, expectLine) {
    await page.getByTestId('reply-text').fill(text);
    if (expectLine)
      await page.getByTestId('fears-line').filter({ hasText: expectLine }).first().waitFor();
    await page.evaluate(() => { const d = document.querySelector('[data-testid=decision]'); d.dataset.reason = ''; });
    await page.getByTestId('send-reply').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=decision]').dataset.reason);
    return { reason: await page.getByTestId('decision').getAttribute('data-reason'),
             text: await page.getByTestId('decision').textContent() };
  }

  let d = await reply('Dana, that is not good enough from us. I have flagged your bag with the baggage ' +
                      'desk at your arrival airport and asked them to trace it today.', 'Public reply 1 of 2');
  check(d.reason === 'ok' && /replied_1/.test(d.text), 'the first public reply is accepted (live check said reply 1 of 2)', d.text);

  await page.getByTestId('reply-text').fill('The desk has traced it to the transfer hub.');
  await page.getByTestId('fears-line').filter({ hasText: 'fears_dm_required' }).first().waitFor();
  ok('live FEARS feedback: a second reply without a DM invitation is flagged before sending');

  d = await reply('The desk found your bag at the transfer hub. Could you send us a DM with your bag tag ' +
                  'number so we can arrange delivery to your address?', 'Invites the customer to a DM');
  check(d.reason === 'ok' && /replied_2/.test(d.text), 'the second public reply, inviting a DM, is accepted', d.text);

  await page.getByTestId('kind-reply').check();
  d = await reply('One more public update: the bag is on the next flight and will reach you tonight.',
                'fears_reply_limit');
  check(d.reason === 'fears_reply_limit' && d.text.includes('fears_reply_limit'),
        'a third public reply is refused and the reason is shown', d.text);
  await page.getByTestId('detail-replies').filter({ hasText: 'public replies 2 of 2' }).waitFor();
  ok('the detail shows 2 of 2 public replies');

  const history = await page.getByTestId('history-item').count();
  check(history >= 3, `the customer's history is shown (${history} events)`);

  // --- nothing executed ---
  check(dialogs.length === 0, 'no dialog was opened', dialogs.join('|'));
  check(await page.evaluate(() => window.__xss === undefined), 'window.__xss is unset');
  check(cspErrors.length === 0, 'no Content-Security-Policy violation', cspErrors.join(' | '));
  check(pageErrors.length === 0, 'no uncaught script error', pageErrors.join(' | '));

  await page.screenshot({ path: shot, fullPage: false });
  console.log(`screenshot ${shot}`);

  // --- charts ---
  await page.locator('#tab-charts').click();
  await page.locator('[data-testid=chart-brand] svg, [data-testid=chart-brand] .empty, [data-testid=chart-brand] .error').first().waitFor();
  check(await page.locator('[data-testid=chart-brand] polyline').count() >= 1, 'the per-brand volume chart is drawn');
  await page.locator('[data-testid=scorecard] table').waitFor();
  ok('the FEARS scorecard is shown');
  await page.screenshot({ path: shot.replace(/\.png$/, '') + '-charts.png' });
  await page.locator('#tab-queue').click();

  // --- sign out ---
  await page.getByTestId('signout').click();
  await page.getByTestId('signin').waitFor();
  check(await page.evaluate(() => sessionStorage.getItem('earshot.token') === null),
        'sign out forgets the token');
}

let code = 0;
try {
  await run();
  console.log(`${passed} passed, 0 failed`);
} catch (e) {
  console.error(e instanceof Failure ? e.message : `FAIL ${e && e.stack ? e.stack : e}`);
  console.log(`${passed} passed, 1 failed`);
  code = 1;
  if (page) {
    const failShot = shot.replace(/\.png$/, '') + '-failed.png';
    await page.screenshot({ path: failShot }).then(() => console.log(`screenshot ${failShot}`), () => {});
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  clearTimeout(killer);
}
process.exit(code);
