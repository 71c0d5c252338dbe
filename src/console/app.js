// earshot console: the triage queue, the mention detail with the FEARS reply
// box, the live stream and the charts. Plain DOM: every piece of data goes in
// through textContent or setAttribute on a fixed attribute name, never as
// markup (post text and author fields are written by strangers).
import { lineChart, scorecard } from './charts.js';

const TOKEN_KEY = 'earshot.token';
const QUEUE_LIMIT = 100;
const CLOSED = new Set(['resolved', 'ignored']);

const $ = (id) => document.getElementById(id);

const st = {
  token: null,
  me: null,
  mentions: [],
  cursor: null,
  seen: new Set(),          // mids already shown once (new ones flash)
  selected: null,           // mid in the detail pane
  detail: null,
  queueSeq: 0,
  detailSeq: 0,
  checkSeq: 0,
  checkTimer: 0,
  refreshTimer: 0,
  lastRefresh: 0,
  pending: null,            // {mid, kind, text, key}: a send whose answer never came
  stream: null,             // {ctrl, stopped}
  lastEventId: '',
  chartsTimer: 0,
  view: 'queue',
  stage: '',               // mention id and FEARS stage the reply kind was defaulted for
};

// ---- DOM helpers: text only ----

/* h builds an element. props: class, text, testid, title, lang, data (object),
 * attrs (object of fixed, non-URL attribute names). Children are nodes or
 * strings (strings become text nodes). */
export function h(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  if (props.class) e.className = props.class;
  if (props.text !== undefined && props.text !== null) e.textContent = String(props.text);
  if (props.testid) e.setAttribute('data-testid', props.testid);
  if (props.title) e.title = String(props.title);
  if (props.lang) e.lang = props.lang;
  if (props.data) for (const [k, v] of Object.entries(props.data)) e.dataset[k] = String(v);
  if (props.attrs) for (const [k, v] of Object.entries(props.attrs)) e.setAttribute(k, String(v));
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

function clear(e) { e.replaceChildren(); }

function str(v) { return typeof v === 'string' ? v : (v === null || v === undefined ? '' : String(v)); }

function safeLang(l) { return /^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(str(l)) ? l : ''; }

/* safeLink: an <a> for http(s) URLs only; anything else is shown as text. */
function safeLink(url) {
  const u = str(url);
  let ok = false;
  try { const p = new URL(u); ok = (p.protocol === 'https:' || p.protocol === 'http:') && /^https?:\/\//i.test(u); } catch { ok = false; }
  if (!ok) return document.createTextNode(u);
  const a = h('a', { text: u, attrs: { rel: 'noopener noreferrer', target: '_blank', referrerpolicy: 'no-referrer' } });
  a.href = u;
  return a;
}

function fmtCount(n) {
  const x = Number(n) || 0;
  try { return new Intl.NumberFormat(undefined, { notation: 'compact' }).format(x); } catch { return String(x); }
}

function fmtTime(ms) {
  const d = new Date(Number(ms));
  return isNaN(d) ? '' : d.toLocaleString();
}

function fmtClock(ms) {
  const d = new Date(Number(ms));
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function fmtDuration(ms) {
  const s = Math.floor(Math.abs(ms) / 1000);
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  if (hh > 0) return `${hh}h ${String(mm).padStart(2, '0')}m`;
  return `${mm}:${String(ss).padStart(2, '0')}`;
}

function randomKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return 'console-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// ---- the API ----

/* api returns {status, data}; status 0 means the request never got an answer. */
async function api(method, path, body, opts = {}) {
  const headers = { Authorization: 'Bearer ' + (opts.token || st.token), Accept: 'application/json' };
  const init = { method, headers, cache: 'no-store', credentials: 'omit', signal: opts.signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { status: 0, data: { error: 'network', reason: 'network', message: 'The server did not answer.' } };
  }
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (!data || typeof data !== 'object')
    data = { error: 'bad_response', reason: 'bad_response', message: `HTTP ${res.status}` };
  if (res.status === 401 && !opts.token) signOut('Your token is no longer accepted; sign in again.');
  return { status: res.status, data };
}

function mentionPath(mid, tail = '') {
  return '/api/mentions/' + encodeURIComponent(mid) + tail;
}

// ---- sign in / out ----

async function signIn(token, quiet) {
  const r = await api('GET', '/api/me', undefined, { token });
  if (r.status !== 200) {
    if (!quiet) $('signin-error').textContent = r.status === 0 ? 'The server did not answer.'
      : (str(r.data.message) || 'The token was refused.');
    return false;
  }
  st.token = token;
  st.me = r.data;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('signin-error').textContent = '';
  $('token-input').value = '';
  $('me').textContent = `${str(r.data.name)} (${str(r.data.role)})`;
  $('signin').hidden = true;
  $('app').hidden = false;
  showView('queue');
  loadQueue();
  startStream();
  return true;
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  stopStream();
  st.token = null;
  st.me = null;
  st.mentions = [];
  st.seen.clear();
  st.selected = null;
  st.detail = null;
  st.pending = null;
  st.lastEventId = '';
  st.stage = '';
  st.queueSeq++;
  st.detailSeq++;
  clearTimeout(st.refreshTimer);
  clearInterval(st.chartsTimer);
  clear($('queue'));
  $('detail').hidden = true;
  $('reply-text').value = '';
  $('me').textContent = '';
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('token-input').focus();
}

// ---- the queue ----

function filterQuery() {
  const q = new URLSearchParams();
  const brand = $('f-brand').value.trim();
  if (brand) q.set('brand', brand);
  if ($('f-state').value) q.set('state', $('f-state').value);
  if ($('f-platform').value) q.set('platform', $('f-platform').value);
  if ($('f-severity').value) q.set('severity', $('f-severity').value);
  if ($('f-mine').checked && st.me) q.set('assignee', str(st.me.name));
  q.set('limit', String(QUEUE_LIMIT));
  return q;
}

async function loadQueue(more = false) {
  if (!st.token) return;
  const seq = ++st.queueSeq;
  st.lastRefresh = Date.now();
  const q = filterQuery();
  if (more && st.cursor) q.set('cursor', st.cursor);
  const r = await api('GET', '/api/mentions?' + q.toString());
  if (seq !== st.queueSeq) return;
  if (r.status !== 200) {
    $('queue-empty').textContent = `The queue could not be loaded: ${str(r.data.message)}`;
    $('queue-empty').hidden = false;
    return;
  }
  const list = Array.isArray(r.data.mentions) ? r.data.mentions : [];
  st.mentions = more ? st.mentions.concat(list) : list;
  st.cursor = typeof r.data.next_cursor === 'string' ? r.data.next_cursor : null;
  renderQueue();
}

/* scheduleRefresh coalesces live events into at most one reload a second. */
function scheduleRefresh() {
  if (st.refreshTimer) return;
  const wait = Math.max(250, 1000 - (Date.now() - st.lastRefresh));
  st.refreshTimer = setTimeout(() => { st.refreshTimer = 0; loadQueue(); }, wait);
}

function badges(m, withState) {
  const out = [];
  const platform = str(m.platform);
  if (platform) out.push(h('span', { class: 'badge platform platform-' + platform.replace(/[^a-z0-9-]/gi, ''), text: platform, testid: 'badge-platform' }));
  const brand = str(m.brand);
  if (brand && brand !== '_') out.push(h('span', { class: 'badge brand', text: brand, testid: 'badge-brand' }));
  const sev = Number(m.severity) || 0;
  if (sev) out.push(h('span', { class: `badge sev sev-${Math.min(4, Math.max(1, sev))}`, text: `sev ${sev}`, testid: 'badge-severity', title: 'severity 1 (low) to 4 (urgent)' }));
  const cat = str(m.category);
  if (cat) out.push(h('span', { class: 'badge', text: cat, testid: 'badge-category' }));
  const fence = str(m.fence);
  if (fence) out.push(h('span', { class: 'badge fence', text: '◎ ' + fence, testid: 'badge-fence', title: str(m.place) || 'geo fence' }));
  if (withState) out.push(h('span', { class: 'badge state', text: str(m.state) || 'new', testid: 'badge-state' }));
  return out;
}

function slaSpan(m, testid) {
  const s = h('span', { class: 'sla', testid });
  s.dataset.deadline = String(Number(m.sla_deadline_ms) || 0);
  s.dataset.state = str(m.state);
  updateSla(s);
  return s;
}

/* updateSla: the countdown of an unanswered mention; red once overdue. */
function updateSla(s) {
  const dl = Number(s.dataset.deadline);
  const state = s.dataset.state;
  s.classList.remove('soon', 'overdue', 'done');
  if (!dl) { s.textContent = ''; return; }
  if (state && state !== 'new' && state !== 'claimed') {
    s.classList.add('done');
    s.textContent = CLOSED.has(state) ? state : 'answered';
    return;
  }
  const left = dl - Date.now();
  if (left < 0) {
    s.classList.add('overdue');
    s.textContent = 'overdue ' + fmtDuration(left);
    s.title = 'SLA deadline was ' + fmtTime(dl);
  } else {
    if (left < 2 * 60 * 1000) s.classList.add('soon');
    s.textContent = fmtDuration(left) + ' left';
    s.title = 'SLA deadline ' + fmtTime(dl);
  }
}

function holderText(holder, until) {
  if (!holder) return '';
  const you = st.me && holder === str(st.me.name) ? ' (you)' : '';
  const u = Number(until) > 0 ? ' until ' + fmtClock(until) : '';
  return `held by ${holder}${you}${u}`;
}

function renderQueue() {
  const ol = $('queue');
  const focusedMid = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.mid : null;
  const first = st.seen.size === 0;
  const frag = document.createDocumentFragment();
  for (const m of st.mentions) {
    const mid = str(m.id);
    const li = h('li', {
      class: `row sev-${Number(m.severity) || 0}`,
      testid: 'mention-row',
      data: { mid, state: str(m.state) },
      attrs: { tabindex: '0', 'aria-label': `${str(m.platform)} ${str(m.brand)} ${str(m.author_name)}` },
    },
    h('div', { class: 'row-top' }, ...badges(m, true), slaSpan(m, 'row-sla')),
    h('p', { class: 'row-text', text: str(m.text), lang: safeLang(m.lang), testid: 'row-text' }),
    h('div', { class: 'row-who' },
      h('span', { text: str(m.author_name) || str(m.author_handle) }),
      m.author_handle ? h('span', { text: ' @' + str(m.author_handle) }) : null,
      h('span', { text: ` · ${fmtCount(m.followers)} followers` }),
      m.tier ? h('span', { class: 'badge tier', text: str(m.tier) }) : null,
      ' ',
      h('span', { class: 'holder', testid: 'row-holder', text: holderText(str(m.holder), m.lease_until) })));
    if (mid === st.selected) li.classList.add('selected');
    if (!first && !st.seen.has(mid)) li.classList.add('fresh');
    st.seen.add(mid);
    frag.append(li);
  }
  ol.replaceChildren(frag);
  $('queue-count').textContent = String(st.mentions.length) + (st.cursor ? '+' : '');
  $('queue-empty').textContent = 'No open mentions.';
  $('queue-empty').hidden = st.mentions.length > 0;
  $('more').hidden = !st.cursor;
  if (focusedMid) {
    const again = ol.querySelector(`li[data-mid="${CSS.escape(focusedMid)}"]`);
    if (again) again.focus();
  }
}

// ---- the detail ----

async function openDetail(mid, keepDraft) {
  if (!mid) return;
  const changed = mid !== st.selected;
  st.selected = mid;
  for (const li of $('queue').querySelectorAll('li.row'))
    li.classList.toggle('selected', li.dataset.mid === mid);
  if (changed && !keepDraft) {
    $('reply-text').value = '';
    clear($('fears'));
    $('decision').textContent = '';
    $('decision').className = 'result';
    $('action-result').textContent = '';
    $('action-result').className = 'result';
    clear($('suggestions'));
  }
  await refreshDetail();
  if (changed) loadSuggestions();
}

async function refreshDetail() {
  const mid = st.selected;
  if (!mid || !st.token) return;
  const seq = ++st.detailSeq;
  const r = await api('GET', mentionPath(mid));
  if (seq !== st.detailSeq || mid !== st.selected) return;
  if (r.status !== 200) {
    $('detail').hidden = false;
    $('action-result').textContent = `Cannot load ${mid}: ${str(r.data.message)}`;
    $('action-result').className = 'result refused';
    return;
  }
  st.detail = r.data;
  renderDetail(r.data);
}

/* utf8ToIndex maps UTF-8 byte offsets of text to string (UTF-16) indices:
 * map[b] is the index at byte b, or -1 when b is inside a character. */
function utf8ToIndex(text) {
  const total = new TextEncoder().encode(text).length;
  const map = new Int32Array(total + 1).fill(-1);
  let b = 0, i = 0;
  for (const ch of text) {
    if (b > total) break;
    map[b] = i;
    const cp = ch.codePointAt(0);
    b += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += ch.length;
  }
  if (b === total) map[total] = i;
  return map;
}

/* highlight fills el with text, the matched spans (UTF-8 byte offsets from
 * the matcher) wrapped in <mark>. Spans that do not fall on character
 * boundaries are skipped rather than guessed. */
function highlight(el, text, spans) {
  clear(el);
  const ranges = [];
  if (Array.isArray(spans) && spans.length && text) {
    const map = utf8ToIndex(text);
    for (const sp of spans.slice(0, 256)) {
      if (!sp || typeof sp !== 'object') continue;
      const sb = Number(sp.start), eb = Number(sp.end);
      let s = -1, e = -1;
      if (Number.isInteger(sb) && Number.isInteger(eb) && sb >= 0 && eb > sb && eb < map.length) {
        s = map[sb];
        e = map[eb];
      }
      const want = typeof sp.text === 'string' ? sp.text : null;
      if ((s < 0 || e < 0 || (want !== null && text.slice(s, e) !== want)) && want) {
        s = text.indexOf(want);
        e = s >= 0 ? s + want.length : -1;
      }
      if (s < 0 || e <= s) continue;
      const label = sp.rule ? 'rule ' + str(sp.rule) : sp.brand ? 'brand ' + str(sp.brand) : 'match';
      ranges.push({ s, e, label });
    }
  }
  if (!ranges.length) { el.textContent = text; return; }
  const cuts = new Set([0, text.length]);
  for (const r of ranges) { cuts.add(r.s); cuts.add(r.e); }
  const points = Array.from(cuts).sort((a, b) => a - b);
  for (let k = 0; k + 1 < points.length; k++) {
    const a = points[k], b = points[k + 1];
    const piece = text.slice(a, b);
    const labels = ranges.filter((r) => r.s <= a && r.e >= b).map((r) => r.label);
    if (labels.length) el.append(h('mark', { text: piece, title: Array.from(new Set(labels)).join(', '), testid: 'span-mark' }));
    else el.append(document.createTextNode(piece));
  }
}

function renderDetail(m) {
  const conv = m.conversation && typeof m.conversation === 'object' ? m.conversation : {};
  const cust = m.customer && typeof m.customer === 'object' ? m.customer : {};
  const fears = m.fears && typeof m.fears === 'object' ? m.fears : {};
  $('detail').hidden = false;
  $('detail').dataset.mid = str(m.id);
  $('d-badges').replaceChildren(...badges(m, false));
  const sla = $('d-sla');
  sla.dataset.deadline = String(Number(m.sla_deadline_ms) || 0);
  sla.dataset.state = str(conv.state || m.state);
  updateSla(sla);
  $('d-author').textContent = str(m.author_name) || str(m.author_handle) || str(m.author_id);
  $('d-handle').textContent = m.author_handle ? '@' + str(m.author_handle) : '';
  $('d-followers').textContent = `${fmtCount(m.followers)} followers${Number(m.verified) ? ' · verified' : ''}`;
  $('d-tier').textContent = str(m.tier);
  const text = $('d-text');
  text.lang = safeLang(m.lang);
  highlight(text, str(m.text), m.spans);
  const meta = [fmtTime(Date.parse(str(m.created_at))), str(m.place), str(m.lang), `post ${str(m.post_id)}`, str(m.id)];
  $('d-meta').textContent = meta.filter(Boolean).join(' · ');
  const link = $('d-link');
  clear(link);
  if (m.url) link.append(safeLink(m.url));
  const state = str(conv.state || m.state) || 'new';
  $('d-state').textContent = state;
  const holder = str(conv.holder !== undefined ? conv.holder : m.holder);
  const until = conv.lease_until !== undefined ? conv.lease_until : m.lease_until;
  $('d-holder').textContent = holder ? holderText(holder, until) : 'unclaimed';
  const n = Number(fears.public_replies !== undefined ? fears.public_replies : conv.public_replies) || 0;
  const dmOpen = fears.dm_open !== undefined ? !!fears.dm_open : !!Number(conv.dm_open);
  $('d-replies').textContent = `public replies ${n} of 2${dmOpen ? ' · DM open' : ''}` +
    (fears.message ? ` · ${str(fears.message)}` : '');
  const stage = `${str(m.id)}:${str(fears.next)}`;
  if (stage !== st.stage) {
    st.stage = stage;
    setKind(fears.next === 'dm_only' ? 'dm' : 'reply');
  }
  const closed = CLOSED.has(state);
  $('a-claim').disabled = closed;
  $('a-release').disabled = closed || !holder;
  $('a-ignore').disabled = closed;
  $('a-resolve').disabled = closed;
  // the customer
  const churn = cust.churn_risk === true || Number(cust.churn_risk) > 0 || Number(m.churn_risk) > 0;
  $('d-churn').hidden = !churn;
  const counts = [];
  for (const k of ['mentions', 'complaints', 'replies', 'resolved', 'ignored'])
    if (cust[k] !== undefined) counts.push(`${k} ${Number(cust[k]) || 0}`);
  if (cust.tier) counts.push('tier ' + str(cust.tier));
  if (cust.last_outcome) counts.push('last outcome ' + str(cust.last_outcome));
  $('d-counts').textContent = counts.join(' · ') || 'No history yet.';
  const hist = $('d-history');
  clear(hist);
  const events = Array.isArray(cust.history) ? cust.history.slice(0, 50) : [];
  for (const ev of events) {
    if (!ev || typeof ev !== 'object') continue;
    const what = str(ev.t);
    const li = h('li', { testid: 'history-item', data: { kind: what } },
      h('span', { class: 'when', text: fmtTime(ev.ms) }),
      h('strong', { text: what }),
      ev.agent ? ` by ${str(ev.agent)}` : '',
      ev.mid && ev.mid !== m.id ? ` (${str(ev.mid)})` : '',
      ev.why ? ` — ${str(ev.why)}` : '',
      ev.text ? h('div', { text: str(ev.text) }) : null);
    hist.append(li);
  }
  if (!events.length) hist.append(h('li', { class: 'muted', text: 'Nothing recorded.' }));
}

function showResult(el, status, d, okText) {
  const reason = str(d.reason);
  el.dataset.reason = d.ok === true ? 'ok' : (reason || 'error');
  el.dataset.status = String(status);
  if (d.ok === true) {
    el.className = 'result ok';
    el.textContent = okText + (d.duplicate ? ' (this was already done; same decision)' : '');
  } else {
    el.className = 'result refused';
    const who = d.holder && reason === 'claimed_by_other' ? ` (held by ${str(d.holder)})` : '';
    el.textContent = `Refused: ${reason || str(d.error) || 'error'}${who} — ${str(d.message) || 'HTTP ' + status}`;
  }
}

async function doAction(action) {
  const mid = st.selected;
  if (!mid) return;
  const el = $('action-result');
  el.className = 'result';
  el.textContent = `${action}…`;
  const r = await api('POST', mentionPath(mid, '/' + action), {});
  const d = r.data;
  let okText = `${action}: ${str(d.state)}`;
  if (action === 'claim' && d.ok) okText = `Claimed: ${holderText(str(d.holder), d.lease_until_ms)}`;
  showResult(el, r.status, d, okText);
  await refreshDetail();
  if (action !== 'claim') loadSuggestions();
  scheduleRefresh();
}

// ---- the reply box ----

function replyKind() {
  return $('kind-dm').checked ? 'dm' : 'reply';
}

function setKind(kind) {
  $('kind-dm').checked = kind === 'dm';
  $('kind-reply').checked = kind !== 'dm';
}

function scheduleCheck() {
  clearTimeout(st.checkTimer);
  st.checkTimer = setTimeout(runCheck, 250);
}

async function runCheck() {
  const mid = st.selected;
  const text = $('reply-text').value;
  const box = $('fears');
  const seq = ++st.checkSeq;
  if (!mid || !text.trim()) { clear(box); return; }
  const kind = replyKind();
  const r = await api('POST', mentionPath(mid, '/check'), { text, kind });
  if (seq !== st.checkSeq || mid !== st.selected) return;
  clear(box);
  const line = (cls, msg, reason) => box.append(h('div', { class: cls, text: msg, testid: 'fears-line', data: { reason: reason || '' } }));
  if (r.status !== 200) { line('bad', `Cannot check: ${str(r.data.message)}`, str(r.data.reason)); return; }
  const c = r.data;
  const s = c.state && typeof c.state === 'object' ? c.state : {};
  const num = Number(s.reply_number) || 0;
  const chars = c.chars !== undefined ? ` · ${Number(c.chars)}/${Number(c.max_chars) || '?'} characters` : '';
  if (kind === 'dm' || num === 0) line('info', 'Direct message' + chars, 'kind');
  else if (num > 2) line('info', 'Public replies used up (2 of 2): continue by direct message' + chars, 'reply_number');
  else line('info', `Public reply ${num} of 2${num === 2 ? ' — must invite the customer to a DM' : ''}` + chars, 'reply_number');
  const reasons = new Set();
  for (const x of Array.isArray(c.refusals) ? c.refusals : []) {
    reasons.add(str(x.reason));
    line('bad', `${str(x.reason)}: ${str(x.message)}`, str(x.reason));
  }
  const verdict = str(s.verdict);
  if (verdict && verdict !== 'ok' && !reasons.has(verdict)) {
    reasons.add(verdict);
    const why = verdict === 'not_claimed' ? 'claim the mention before replying.'
      : verdict === 'claimed_by_other' ? `${str(s.holder)} holds this conversation.`
      : verdict === 'bad_state' ? 'the conversation is closed.' : str(s.message);
    line('bad', `${verdict}: ${why}`, verdict);
  }
  if (num === 2 && kind === 'reply') {
    if (c.dm_invite) line('good', 'Invites the customer to a DM ✓', 'dm_invite');
    else if (!reasons.has('fears_dm_required')) line('bad', 'fears_dm_required: the second public reply must invite the customer to a direct message.', 'fears_dm_required');
  }
  for (const d of Array.isArray(c.deflections) ? c.deflections : [])
    line('bad', `Deflection (${str(d.kind)}): “${str(d.match)}”`, 'fears_channel_deflection');
  if (c.canned && typeof c.canned === 'object')
    line('bad', `Too close to an earlier reply (similarity ${Number(c.canned.similarity).toFixed(2)}): write it for this customer.`, 'fears_canned');
  for (const w of Array.isArray(c.warnings) ? c.warnings : [])
    line('warn', `${str(w.reason)}: ${str(w.message)}`, str(w.reason));
  for (const p of Array.isArray(c.stock_phrases) ? c.stock_phrases : [])
    line('warn', `Stock phrase: “${str(p.match)}”`, 'fears_stock_phrase');
  if (c.ok === true) line('good', 'Ready to send.', 'ok');
}

async function send(kind) {
  const mid = st.selected;
  const ta = $('reply-text');
  const text = ta.value;
  const el = $('decision');
  if (!mid) return;
  setKind(kind);
  // A retry of a send that got no answer reuses its key: the server gives the first decision.
  const p = st.pending;
  const key = p && p.mid === mid && p.kind === kind && p.text === text ? p.key : randomKey();
  st.pending = { mid, kind, text, key };
  el.className = 'result';
  el.textContent = kind === 'dm' ? 'Sending DM…' : 'Sending reply…';
  $('send-reply').disabled = $('send-dm').disabled = true;
  const r = await api('POST', mentionPath(mid, kind === 'dm' ? '/dm' : '/reply'), { text, idempotency_key: key });
  $('send-reply').disabled = $('send-dm').disabled = false;
  if (r.status === 0 || r.status >= 500) {
    el.className = 'result refused';
    el.dataset.reason = str(r.data.reason) || 'network';
    el.textContent = `Not confirmed (${str(r.data.message)}). Press again to retry safely: the same request key is reused.`;
    return;
  }
  st.pending = null;
  const d = r.data;
  const what = kind === 'dm' ? 'DM queued' : `Public reply ${Number(d.public_replies) || ''} of 2 queued`;
  showResult(el, r.status, d, `${what} — state ${str(d.state)}`);
  if (d.ok && Array.isArray(d.warnings) && d.warnings.length)
    el.textContent += ' · warnings: ' + d.warnings.map((w) => str(w.reason)).join(', ');
  if (d.ok) { ta.value = ''; clear($('fears')); }
  await refreshDetail();
  loadSuggestions();
  scheduleRefresh();
}

async function loadSuggestions() {
  const mid = st.selected;
  const box = $('suggestions');
  if (!mid) return;
  const d = st.detail && str(st.detail.id) === mid ? st.detail : null;
  const lang = d && /^(zh|en)/.test(str(d.lang)) ? str(d.lang).slice(0, 2) : '';
  const r = await api('GET', mentionPath(mid, '/suggestions') + (lang ? '?lang=' + lang : ''));
  if (mid !== st.selected) return;
  clear(box);
  if (r.status !== 200) return;
  const list = Array.isArray(r.data.templates) ? r.data.templates.slice(0, 3) : [];
  if (!list.length) return;
  box.append(h('div', { class: 'small muted', text: `Templates for ${str(r.data.scenario) || 'this reply'} (a starting point: make it personal; fill the {placeholders}):` }));
  for (const t of list) {
    const text = fillTemplate(str(t.text), d);
    const b = h('button', { class: 'suggestion', text, testid: 'suggestion', lang: safeLang(t.lang), attrs: { type: 'button' } });
    b.addEventListener('click', () => {
      const ta = $('reply-text');
      ta.value = text;
      ta.focus();
      const at = text.indexOf('{');
      if (at >= 0) ta.setSelectionRange(at, text.indexOf('}', at) + 1 || at);
      scheduleCheck();
    });
    box.append(b);
  }
}

/* fillTemplate puts the customer's name and the brand into a template; the other
 * {placeholders} are the agent's to fill (the check refuses them unfilled). */
function fillTemplate(text, m) {
  if (!m) return text;
  const name = str(m.author_name) || (m.author_handle ? '@' + str(m.author_handle) : '');
  const brand = str(m.brand) && m.brand !== '_' ? str(m.brand) : '';
  return text.replace(/\{name\}/g, () => name || '{name}').replace(/\{brand\}/g, () => brand || '{brand}');
}

// ---- the live stream (fetch + ReadableStream: EventSource cannot send the header) ----

function setLive(cls, text) {
  const e = $('live');
  e.className = 'live ' + cls;
  e.textContent = text;
}

function startStream() {
  stopStream();
  const s = { ctrl: null, stopped: false, watchdog: 0 };
  st.stream = s;
  streamLoop(s);
}

function stopStream() {
  const s = st.stream;
  if (!s) return;
  s.stopped = true;
  clearTimeout(s.watchdog);
  if (s.ctrl) s.ctrl.abort();
  st.stream = null;
  setLive('', 'offline');
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function streamLoop(s) {
  let backoff = 1000;
  while (!s.stopped && st.token) {
    s.ctrl = new AbortController();
    const headers = { Authorization: 'Bearer ' + st.token, Accept: 'text/event-stream' };
    if (st.lastEventId) headers['Last-Event-ID'] = st.lastEventId;
    try {
      const res = await fetch('/api/stream', { headers, signal: s.ctrl.signal, cache: 'no-store', credentials: 'omit' });
      if (res.status === 401) { if (!s.stopped) signOut('Your token is no longer accepted; sign in again.'); return; }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      setLive('on', 'live');
      backoff = 1000;
      scheduleRefresh(); // catch up on anything missed while away
      await readEvents(s, res.body);
      if (!s.stopped) throw new Error('stream closed');
    } catch (e) {
      if (s.stopped) return;
      const wait = Math.round(backoff * (0.75 + Math.random() * 0.5));
      setLive('retry', `reconnecting in ${Math.ceil(wait / 1000)} s`);
      await sleep(wait);
      backoff = Math.min(backoff * 2, 30000);
    }
  }
}

/* readEvents parses text/event-stream (lines split on CR, LF or CRLF; a blank
 * line dispatches). A silent connection (no heartbeat for 45 s) is dropped. */
async function readEvents(s, body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '', data = [], event = '', id = null;
  const arm = () => {
    clearTimeout(s.watchdog);
    s.watchdog = setTimeout(() => s.ctrl && s.ctrl.abort(), 45000);
  };
  arm();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || s.stopped) return;
      arm();
      buf += value;
      if (buf.length > 1 << 20) throw new Error('event too large');
      for (;;) {
        const m = /\r\n|\n|\r/.exec(buf);
        if (!m) break;
        if (m[0] === '\r' && m.index === buf.length - 1) break; // a CRLF may be split
        const line = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        if (line === '') {
          if (id !== null) st.lastEventId = id;
          if (data.length) dispatch(event || 'message', data.join('\n'));
          data = []; event = ''; id = null;
          continue;
        }
        if (line.startsWith(':')) continue;
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        let val = c < 0 ? '' : line.slice(c + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'data') data.push(val);
        else if (field === 'event') event = val;
        else if (field === 'id' && !val.includes('\0')) id = val;
      }
    }
  } finally {
    clearTimeout(s.watchdog);
    reader.cancel().catch(() => { /* aborted or already closed */ });
  }
}

function dispatch(event, raw) {
  let d = null;
  try { d = JSON.parse(raw); } catch { return; }
  if (!d || typeof d !== 'object') return;
  if (event === 'state') {
    const m = st.mentions.find((x) => str(x.id) === str(d.mid));
    if (m) {
      if (typeof d.state === 'string' && d.state) m.state = d.state;
      if (typeof d.holder === 'string') m.holder = d.holder;
      renderQueue();
    }
    if (str(d.mid) === st.selected) refreshDetail();
  }
  if (event === 'mention' || event === 'state') scheduleRefresh();
}

// ---- charts ----

async function loadCharts() {
  if (!st.token) return;
  const step = $('c-step').value;
  const [b, c, f] = await Promise.all([
    api('GET', `/api/stats/volume?step=${encodeURIComponent(step)}&by=brand`),
    api('GET', `/api/stats/volume?step=${encodeURIComponent(step)}&by=category`),
    api('GET', '/api/stats/fears'),
  ]);
  drawVolume($('chart-brand'), b);
  drawVolume($('chart-category'), c);
  const sc = $('scorecard');
  if (f.status === 200) sc.replaceChildren(scorecard(f.data));
  else sc.replaceChildren(h('p', { class: 'error', text: str(f.data.message) }));
}

function drawVolume(box, r) {
  if (r.status !== 200) { box.replaceChildren(h('p', { class: 'error', text: str(r.data.message) })); return; }
  const buckets = Array.isArray(r.data.buckets) ? r.data.buckets : [];
  const totals = new Map();
  for (const b of buckets)
    if (b && b.groups && typeof b.groups === 'object')
      for (const [k, v] of Object.entries(b.groups)) totals.set(k, (totals.get(k) || 0) + (Number(v) || 0));
  const keys = Array.from(totals.entries()).sort((a, b) => b[1] - a[1]).slice(0, 8).map((e) => e[0]);
  const series = keys.map((k) => ({
    name: k === '_' ? '(no brand)' : k,
    points: buckets.map((b) => [Number(b.t) || 0, Number(b.groups && b.groups[k]) || 0]),
  }));
  box.replaceChildren(lineChart(series, { step: str(r.data.step) }));
}

function showView(v) {
  st.view = v;
  $('view-queue').hidden = v !== 'queue';
  $('view-charts').hidden = v !== 'charts';
  $('tab-queue').setAttribute('aria-pressed', String(v === 'queue'));
  $('tab-charts').setAttribute('aria-pressed', String(v === 'charts'));
  clearInterval(st.chartsTimer);
  if (v === 'charts') {
    loadCharts();
    st.chartsTimer = setInterval(loadCharts, 30000);
  }
}

// ---- wiring ----

function rows() { return Array.from($('queue').querySelectorAll('li.row')); }

function moveFocus(delta) {
  const list = rows();
  if (!list.length) return;
  let i = list.indexOf(document.activeElement);
  if (i < 0) i = list.findIndex((li) => li.dataset.mid === st.selected);
  i = Math.min(list.length - 1, Math.max(0, i + delta));
  list[i].focus();
}

function init() {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token-input').value.trim();
    if (t) signIn(t, false);
  });
  $('signout').addEventListener('click', () => signOut(''));
  for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => showView(b.dataset.view));
  $('c-step').addEventListener('change', loadCharts);
  $('c-refresh').addEventListener('click', loadCharts);

  let brandTimer = 0;
  $('filters').addEventListener('submit', (e) => e.preventDefault());
  $('filters').addEventListener('change', () => loadQueue());
  $('f-brand').addEventListener('input', () => { clearTimeout(brandTimer); brandTimer = setTimeout(() => loadQueue(), 400); });
  $('more').addEventListener('click', () => loadQueue(true));

  const q = $('queue');
  q.addEventListener('click', (e) => {
    const li = e.target.closest('li.row');
    if (li) openDetail(li.dataset.mid);
  });
  q.addEventListener('keydown', (e) => {
    const li = e.target.closest('li.row');
    if (li && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); openDetail(li.dataset.mid); }
  });

  $('a-claim').addEventListener('click', () => doAction('claim'));
  $('a-release').addEventListener('click', () => doAction('release'));
  $('a-resolve').addEventListener('click', () => doAction('resolve'));
  $('a-ignore').addEventListener('click', () => doAction('ignore'));
  $('reply-text').addEventListener('input', scheduleCheck);
  $('kind-reply').addEventListener('change', scheduleCheck);
  $('kind-dm').addEventListener('change', scheduleCheck);
  $('send-reply').addEventListener('click', () => send('reply'));
  $('send-dm').addEventListener('click', () => send('dm'));

  document.addEventListener('keydown', (e) => {
    if (!st.token || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) {
      if (e.key === 'Escape') t.blur();
      return;
    }
    if (st.view !== 'queue') return;
    if (e.key === 'j') { e.preventDefault(); moveFocus(1); }
    else if (e.key === 'k') { e.preventDefault(); moveFocus(-1); }
    else if (e.key === 'c' && st.selected) { e.preventDefault(); doAction('claim'); }
    else if (e.key === 'r' && st.selected) { e.preventDefault(); $('reply-text').focus(); }
    else if (e.key === '/') { e.preventDefault(); $('f-brand').focus(); }
  });

  // SLA countdowns tick once a second.
  setInterval(() => { for (const s of document.querySelectorAll('.sla[data-deadline]')) updateSla(s); }, 1000);

  // `earshot demo` prints a sign-in link with the token in the fragment (never sent to the
  // server); it is moved to sessionStorage and removed from the address bar at once.
  let fromLink = '';
  if (location.hash.startsWith('#token=')) {
    fromLink = decodeURIComponent(location.hash.slice(7)).trim();
    history.replaceState(null, '', location.pathname + location.search);
  }
  const saved = fromLink || sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    signIn(saved, true).then((ok) => {
      if (!ok) { sessionStorage.removeItem(TOKEN_KEY); $('signin').hidden = false; $('token-input').focus(); }
    });
  } else {
    $('signin').hidden = false;
    $('token-input').focus();
  }
}

init();
