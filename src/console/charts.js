// Hand-drawn SVG charts, built with DOM calls (no markup strings, no inline
// styles: colours come from classes in app.css).
const SVG = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = String(text);
  return e;
}

/* niceMax rounds a maximum up to 1, 2 or 5 times a power of ten. */
function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function timeLabel(ms, step) {
  const d = new Date(ms);
  if (step === 'hour') return d.toLocaleString([], { month: 'numeric', day: 'numeric', hour: '2-digit' });
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/*
 * lineChart draws series [{name, points: [[t_ms, value], ...]}] (all with the
 * same times) as lines over a time axis, with a legend. Returns a <figure>.
 */
export function lineChart(series, opts = {}) {
  const W = 800, H = 260, L = 44, R = 12, T = 12, B = 28;
  const fig = el('figure', 'linechart');
  const pts = series.length ? series[0].points : [];
  if (!series.length || pts.length < 2) {
    fig.append(el('p', 'empty', 'No complaints in this window.'));
    return fig;
  }
  const t0 = pts[0][0], t1 = pts[pts.length - 1][0];
  let max = 0;
  for (const se of series) for (const p of se.points) max = Math.max(max, p[1]);
  const tick = Math.max(1, niceMax(max / 5)); // counts: whole-number ticks
  const ymax = Math.max(tick, Math.ceil(max / tick) * tick);
  const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / ymax) * (H - T - B);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${series.length} series, peak ${max} per ${opts.step || 'bucket'}` });
  svg.append(s('title', {}, `complaints per ${opts.step || 'bucket'}`));
  for (let v = 0; v <= ymax + tick / 2; v += tick) {
    const yy = y(v);
    svg.append(s('line', { class: 'grid', x1: L, x2: W - R, y1: yy, y2: yy }));
    svg.append(s('text', { class: 'tick', x: L - 6, y: yy + 4, 'text-anchor': 'end' }, Number.isInteger(v) ? v : Number(v.toPrecision(3))));
  }
  svg.append(s('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }));
  svg.append(s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    svg.append(s('text', { class: 'tick', x: x(t), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' }, timeLabel(t, opts.step)));
  }
  const legend = el('div', 'legend');
  series.forEach((se, i) => {
    const d = se.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
    const line = s('polyline', { class: `series c${i % 8}`, points: d, 'data-series': se.name });
    const total = se.points.reduce((a, p) => a + p[1], 0);
    line.append(s('title', {}, `${se.name}: ${total}`));
    svg.append(line);
    const item = el('span', 'legend-item');
    item.append(el('span', `swatch sw${i % 8}`), document.createTextNode(`${se.name} (${total})`));
    legend.append(item);
  });
  fig.append(svg, legend);
  return fig;
}

function pct(v) { return v === null || v === undefined || !isFinite(Number(v)) ? '–' : `${Number(v).toFixed(0)}%`; }
function rate(v) { return v === null || v === undefined || !isFinite(Number(v)) ? '–' : `${(Number(v) * 100).toFixed(0)}%`; }
function num(v, digits = 0) { return v === null || v === undefined || !isFinite(Number(v)) ? '–' : Number(v).toFixed(digits); }
function secs(v) {
  if (v === null || v === undefined || !isFinite(Number(v))) return '–';
  const n = Number(v);
  return n < 120 ? `${n.toFixed(0)} s` : `${(n / 60).toFixed(1)} min`;
}

/* scorecard: the FEARS scorecard (GET /api/stats/fears) as a table, and the
 * refusals per reason as bars. */
export function scorecard(f) {
  const wrap = el('div');
  const frt = f.first_response_s && typeof f.first_response_s === 'object' ? f.first_response_s : {};
  const sla = f.sla && typeof f.sla === 'object' ? f.sla : {};
  const rows = [
    ['Period', `${f.from_day || ''} – ${f.to_day || ''} (${num(f.days)} days)`],
    ['F · complaint conversations found', num(f.complaints)],
    ['A · answered publicly', `${num(f.answered_public)} (${pct(f.answered_public_pct)})`],
    ['R · public replies per conversation (max 2)', num(f.replies_per_conversation, 2)],
    ['S · switched to DM', `${num(f.dm_switches)} (${rate(f.dm_switch_rate)})`],
    ['DMs sent', num(f.dms)],
    ['Resolved / ignored', `${num(f.resolved)} / ${num(f.ignored)}`],
    ['First response p50 / p90', `${secs(frt.p50)} / ${secs(frt.p90)} (${num(frt.count)})`],
    ['SLA met / missed', `${num(sla.met)} / ${num(sla.missed)} (${pct(sla.met_pct)})`],
  ];
  const table = el('table');
  for (const [k, v] of rows) {
    const tr = el('tr');
    tr.append(el('th', '', k), el('td', 'num', v));
    table.append(tr);
  }
  wrap.append(table);
  const ref = f.refusals && typeof f.refusals === 'object' ? Object.entries(f.refusals) : [];
  if (ref.length) {
    ref.sort((a, b) => Number(b[1]) - Number(a[1]));
    const W = 800, rowH = 22, L = 230;
    const max = Math.max(1, ...ref.map((r) => Number(r[1]) || 0));
    const svg = s('svg', { viewBox: `0 0 ${W} ${ref.length * rowH + 24}`, role: 'img', 'aria-label': 'refusals per reason' });
    svg.append(s('text', { class: 'tick', x: 0, y: 14 }, 'E · refusals per reason'));
    ref.forEach(([k, v], i) => {
      const yy = 22 + i * rowH;
      const w = ((Number(v) || 0) / max) * (W - L - 60);
      svg.append(s('text', { class: 'tick', x: L - 8, y: yy + 14, 'text-anchor': 'end' }, k));
      svg.append(s('rect', { class: 'bar', x: L, y: yy + 3, width: Math.max(1, w), height: rowH - 6, rx: 2 }));
      svg.append(s('text', { class: 'tick', x: L + w + 6, y: yy + 14 }, String(Number(v) || 0)));
    });
    const box = el('div', 'chart');
    box.append(svg);
    wrap.append(box);
  }
  return wrap;
}
