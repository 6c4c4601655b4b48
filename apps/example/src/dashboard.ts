/**
 * The dashboard: one page with inline CSS and vanilla JavaScript, and charts drawn by uPlot
 * (about 50 KB), which the service serves from its own dependency at `/assets/`: no CDN, no
 * build step, so it works on a machine without internet access. It reads `/api/stats` once
 * (the last minute of samples), then follows `/api/events` (Server-Sent Events): one sample a
 * second, and every event as it happens.
 *
 * Kept as a TypeScript string so the bundler ships it inside `dist/main.js` with no loader and
 * no file to copy. The page's script avoids backticks so it fits in this template.
 */
export const DASHBOARD_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>enhanced-pool · example service</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<script src="/assets/uPlot.iife.min.js"></script>
<style>
  :root {
    color-scheme: dark;
    --bg: #0f1419; --panel: #182029; --line: #2a3541; --text: #d8dee6; --muted: #8a97a6;
    --green: #3fb950; --amber: #d29922; --red: #f85149; --blue: #58a6ff; --purple: #bc8cff;
    --cyan: #39c5cf; --grey: #6e7681;
  }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--text);
    font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  header { display: flex; align-items: center; gap: 12px; flex-wrap: wrap;
    padding: 10px 18px; border-bottom: 1px solid var(--line); background: var(--panel); }
  header h1 { font-size: 17px; margin: 0; font-weight: 600; }
  header .db { color: var(--muted); font-family: ui-monospace, monospace; font-size: 12px; }
  .spacer { flex: 1; }
  .badge { display: inline-block; padding: 2px 9px; border-radius: 10px; font-size: 12px;
    font-weight: 600; background: var(--grey); color: #0f1419; white-space: nowrap; }
  .badge.green { background: var(--green); } .badge.amber { background: var(--amber); }
  .badge.red { background: var(--red); } .badge.purple { background: var(--purple); }
  .badge.blue { background: var(--blue); }
  .badge-label { color: var(--muted); font-size: 12px; margin-right: 3px; }
  main { padding: 14px 18px; display: grid; gap: 14px; }
  .tiles { display: grid; grid-template-columns: repeat(9, 1fr); gap: 10px; }
  @media (max-width: 1100px) { .tiles { grid-template-columns: repeat(3, 1fr); }
    .charts, .cols { grid-template-columns: 1fr; } }
  .tile { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
    padding: 8px 10px; }
  .tile .label { color: var(--muted); font-size: 12px; }
  .tile .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .tile .sub { color: var(--muted); font-size: 11px; }
  .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
  .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
    padding: 10px 12px; min-width: 0; }
  .panel h2 { font-size: 13px; margin: 0 0 8px; color: var(--muted); font-weight: 600;
    text-transform: uppercase; letter-spacing: .04em; }
  .chart { width: 100%; min-height: 200px; }
  .chart.timeline { min-height: 120px; }
  .panel.wide { grid-column: 1 / -1; }
  .uplot { font-family: inherit; }
  .u-legend { font-size: 12px; color: var(--muted); }
  .u-legend .u-series > * { padding: 1px 4px; }
  .u-legend th { font-weight: 500; }
  .u-select { background: rgba(88,166,255,.15); }
  .fault input[type=number] { width: 64px; background: #0f1419; color: var(--text);
    border: 1px solid #3b4450; border-radius: 6px; padding: 5px 6px; font: inherit; }
  .fault .row { display: flex; gap: 6px; align-items: center; }
  .server-faults { margin-top: 8px; padding-top: 8px; border-top: 1px solid var(--line); }
  .server-faults h3 { font-size: 12px; color: var(--muted); margin: 0 0 6px; font-weight: 600; }
  #active-fault { font-weight: 600; color: var(--amber); min-height: 18px; margin-bottom: 6px; }
  .cols { display: grid; grid-template-columns: 1.15fr 1fr 1fr; gap: 14px; }
  button { background: #21262d; color: var(--text); border: 1px solid #3b4450; border-radius: 6px;
    padding: 6px 10px; font: inherit; cursor: pointer; }
  button:hover:not(:disabled) { border-color: var(--blue); }
  button:disabled { opacity: .45; cursor: not-allowed; }
  button.danger:not(:disabled) { border-color: #6e3630; }
  .fault { display: grid; grid-template-columns: 230px 1fr; gap: 8px; align-items: center;
    margin-bottom: 6px; }
  .fault .why { color: var(--muted); font-size: 12px; }
  .load { margin-top: 12px; padding-top: 10px; border-top: 1px solid var(--line); }
  .load input[type=range] { width: 100%; }
  .kv { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; font-size: 13px; }
  .kv dt { color: var(--muted); } .kv dd { margin: 0; font-variant-numeric: tabular-nums; }
  .note { color: var(--muted); font-size: 12px; margin-top: 6px; }
  #toast { min-height: 18px; font-size: 12px; color: var(--muted); margin-top: 8px; }
  #events { list-style: none; margin: 0; padding: 0; max-height: 260px; overflow-y: auto;
    font-family: ui-monospace, monospace; font-size: 12px; }
  #events li { padding: 2px 0; border-bottom: 1px solid #1f2830; display: flex; gap: 10px; }
  #events .t { color: var(--muted); flex: none; }
  #events .k { flex: none; width: 140px; color: var(--muted); overflow: hidden; }
  #events .warn .m { color: var(--amber); } #events .error .m { color: var(--red); }
  .codes { font-family: ui-monospace, monospace; font-size: 12px; }
</style>
</head>

<body>
<header>
  <div><h1>enhanced-pool · example service</h1><div class="db" id="db">connecting…</div></div>
  <span class="spacer"></span>
  <span><span class="badge-label">proxy</span><span class="badge" id="proxy">?</span></span>
  <span><span class="badge-label">server</span><span class="badge" id="server">?</span></span>
  <span><span class="badge-label">breaker</span><span class="badge" id="breaker">?</span></span>
  <span><span class="badge-label">live</span><span class="badge" id="live">?</span></span>
  <span><span class="badge-label">ready</span><span class="badge" id="ready">?</span></span>
  <span><span class="badge-label">stream</span><span class="badge" id="stream">…</span></span>
</header>
<main>
  <section class="tiles">
    <div class="tile"><div class="label">pool size</div><div class="value" id="t-size">–</div><div class="sub" id="t-size-sub"></div></div>
    <div class="tile"><div class="label">active</div><div class="value" id="t-active">–</div><div class="sub">leased or checking</div></div>
    <div class="tile"><div class="label">idle</div><div class="value" id="t-idle">–</div><div class="sub">ready to hand out</div></div>
    <div class="tile"><div class="label">pending</div><div class="value" id="t-pending">–</div><div class="sub">waiting for a connection</div></div>
    <div class="tile"><div class="label">ops/s</div><div class="value" id="t-ops">–</div><div class="sub" id="t-ops-sub"></div></div>
    <div class="tile"><div class="label">errors/s</div><div class="value" id="t-errors">–</div><div class="sub" id="t-errors-sub"></div></div>
    <div class="tile"><div class="label">wait p99</div><div class="value" id="t-wait">–</div><div class="sub">ms, last second</div></div>
    <div class="tile"><div class="label">latency p99</div><div class="value" id="t-p99">–</div><div class="sub" id="t-p99-sub">ms, last 5 s</div></div>
    <div class="tile"><div class="label">workers</div><div class="value" id="t-workers">–</div><div class="sub" id="t-workers-sub"></div></div>
  </section>
  <section class="charts">
    <div class="panel"><h2>Connections (last 60 s)</h2><div class="chart" id="chart-pool"></div></div>
    <div class="panel"><h2>Utilisation against the sizer’s target</h2><div class="chart" id="chart-util"></div></div>
    <div class="panel"><h2>Acquire wait (ms, each second)</h2><div class="chart" id="chart-wait"></div></div>
    <div class="panel"><h2>Throughput and errors (per second)</h2><div class="chart" id="chart-ops"></div></div>
    <div class="panel wide"><h2>Breaker state and health checks</h2><div class="chart timeline" id="chart-timeline"></div></div>
  </section>
  <section class="cols">
    <div class="panel">
      <h2>Make the database misbehave</h2>
      <div id="active-fault"></div>
      <div class="fault"><div class="row"><button class="danger" data-fault="outage">Outage for</button><input type="number" id="outage-seconds" value="5" min="0.1" max="300" step="1"> s</div><span class="why">cut every connection, refuse new ones, then let traffic through</span></div>
      <div class="fault"><button class="danger" data-fault="kill">Kill all connections</button><span class="why">cut every open connection at once</span></div>
      <div class="fault"><div class="row"><button class="danger" data-fault="blackhole">Blackhole for</button><input type="number" id="blackhole-seconds" value="5" min="0.1" max="300" step="1"> s</div><span class="why">connects hang, open connections go silent</span></div>
      <div class="fault"><div class="row"><button class="danger" data-fault="latency">Add latency</button><input type="number" id="latency-ms" value="200" min="0" max="10000" step="50"> ms</div><span class="why" id="latency-now">to every round trip (0 removes it)</span></div>
      <div class="fault"><button data-fault="heal">Heal</button><span class="why">end every fault above</span></div>
      <div class="server-faults" id="server-faults" hidden>
        <h3>On the database server itself</h3>
        <div class="fault" data-server-fault="terminate-idle"><button class="danger" data-fault="terminate-idle">Terminate idle backends</button><span class="why" data-why="terminate-idle">pg_terminate_backend on the pool’s idle connections</span></div>
        <div class="fault" data-server-fault="terminate-all"><button class="danger" data-fault="terminate-all">Terminate all backends</button><span class="why" data-why="terminate-all">pg_terminate_backend, busy ones included</span></div>
        <div class="fault" data-server-fault="restart"><button class="danger" data-fault="restart">Restart server (crash)</button><span class="why" data-why="restart">immediate stop, a few seconds down, start</span></div>
      </div>
      <div class="load">
        <label for="workers">Load: <b id="workers-label">0</b> concurrent workers (molecule reads and imports through the pool)</label>
        <input type="range" id="workers" min="0" max="64" step="1" value="0">
      </div>
      <button id="health-check">Run health check now</button>
      <div id="toast"></div>
    </div>
    <div class="panel">
      <h2>Health report</h2>
      <dl class="kv" id="health"></dl>
      <div class="note" id="health-note"></div>
    </div>
    <div class="panel">
      <h2>Pool counters</h2>
      <dl class="kv" id="counters"></dl>
      <h2 style="margin-top:10px">Errors callers saw (since start)</h2>
      <div class="codes" id="codes">none</div>
    </div>
  </section>
  <section class="panel">
    <h2>Recent events</h2>
    <ul id="events"></ul>
  </section>
</main>
<script>
(function () {
  'use strict';
  var WINDOW_S = 60;
  var history = [];
  var events = {};
  var latest = null;
  var sliderBusy = false;
  var charts = {};

  function $(id) { return document.getElementById(id); }
  function fmt(n, digits) {
    if (n === null || n === undefined || Number.isNaN(n)) return '–';
    return Number(n).toFixed(digits || 0);
  }
  function setBadge(el, text, colour) {
    el.textContent = text;
    el.className = 'badge' + (colour ? ' ' + colour : '');
  }
  function setKv(el, pairs) {
    el.textContent = '';
    pairs.forEach(function (pair) {
      var dt = document.createElement('dt'); dt.textContent = pair[0];
      var dd = document.createElement('dd'); dd.textContent = pair[1];
      el.appendChild(dt); el.appendChild(dd);
    });
  }
  function toast(text) { $('toast').textContent = text; }

  var BREAKER_COLOURS = { closed: 'green', 'half-open': 'amber', open: 'red', isolated: 'purple' };
  var BREAKER_FILL = { closed: '#3fb950', 'half-open': '#d29922', open: '#f85149',
    isolated: '#bc8cff', disabled: '#6e7681', unavailable: '#6e7681' };
  var BREAKER_LEVEL = { closed: 0, 'half-open': 1, open: 2, isolated: 3 };
  var BREAKER_NAMES = ['closed', 'half-open', 'open', 'isolated'];
  var PROXY_COLOURS = { forwarding: 'green', refusing: 'red', outage: 'red', blackhole: 'purple' };
  var SERVER_COLOURS = { up: 'green', restarting: 'amber', unknown: '' };
  var AXIS = { stroke: '#8a97a6', grid: { stroke: '#2a3541', width: 1 },
    ticks: { stroke: '#2a3541', width: 1 } };

  /** Adds samples in time order (the stream and /api/stats may overlap), with rates. */
  function addPoints(points) {
    var byTime = {};
    history.concat(points).forEach(function (point) { byTime[point.t] = point; });
    var times = Object.keys(byTime).map(Number).sort(function (a, b) { return a - b; });
    var end = times.length ? times[times.length - 1] : 0;
    history = [];
    times.forEach(function (t) {
      if (t < end - WINDOW_S * 1000) return;
      var point = byTime[t];
      var before = history.length ? history[history.length - 1] : null;
      var dt = before ? (t - before.t) / 1000 : 0;
      point.ops = dt > 0 ? Math.max(0, (point.ok - before.ok) / dt) : 0;
      point.errs = dt > 0 ? Math.max(0, (point.errors - before.errors) / dt) : 0;
      history.push(point);
    });
  }

  function column(key) { return history.map(function (p) { return p[key]; }); }

  function size(el) {
    return { width: Math.max(300, el.clientWidth), height: el.classList.contains('timeline') ? 120 : 200 };
  }

  function lineSeries(label, colour, extra) {
    var series = { label: label, stroke: colour, width: 2, points: { show: false } };
    for (var key in extra || {}) series[key] = extra[key];
    return series;
  }

  function makeChart(id, series, scales, axes, hooks) {
    var el = $(id);
    var dims = size(el);
    var empty = series.map(function () { return []; });
    // Every chart shows the same last minute, however many samples there are yet.
    scales.x = { time: true, range: function (u, min, max) {
      return max === null || max === undefined ? [min, max] : [max - WINDOW_S, max];
    } };
    var chart = new uPlot({
      width: dims.width, height: dims.height,
      series: [{ label: 'time', value: '{HH}:{mm}:{ss}' }].concat(series),
      scales: scales,
      axes: [AXIS].concat(axes),
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      hooks: hooks || {}
    }, [[]].concat(empty), el);
    charts[id.replace('chart-', '')] = chart;
    return chart;
  }

  function axis(extra) {
    var result = {};
    for (var key in AXIS) result[key] = AXIS[key];
    for (var k in extra || {}) result[k] = extra[k];
    return result;
  }

  function buildCharts() {
    makeChart('chart-pool', [
      lineSeries('size', '#58a6ff'),
      lineSeries('active', '#3fb950'),
      lineSeries('idle', '#8a97a6', { width: 1.5 }),
      lineSeries('pending', '#d29922'),
      lineSeries('sizer target', '#bc8cff', { dash: [6, 4], width: 1.5 })
    ], { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(max, 2)]; } } },
    [axis({ size: 40 })]);
    makeChart('chart-util', [
      lineSeries('utilisation', '#39c5cf', { value: function (u, v) { return v === null || v === undefined ? '–' : Math.round(v * 100) + ' %'; } }),
      lineSeries('targetUtilization', '#bc8cff', { dash: [6, 4], width: 1.5, value: function (u, v) { return v === null || v === undefined ? '–' : Math.round(v * 100) + ' %'; } })
    ], { x: { time: true }, y: { range: [0, 1] } },
    [axis({ size: 52, values: function (u, vals) { return vals.map(function (v) { return Math.round(v * 100) + '%'; }); } })]);
    makeChart('chart-wait', [
      lineSeries('p50', '#3fb950', { value: function (u, v) { return v === null || v === undefined ? '–' : fmt(v, 2) + ' ms'; } }),
      lineSeries('p99', '#f85149', { value: function (u, v) { return v === null || v === undefined ? '–' : fmt(v, 2) + ' ms'; } })
    ], { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(max || 0, 1)]; } } },
    [axis({ size: 48 })]);
    makeChart('chart-ops', [
      lineSeries('ok/s', '#39c5cf', { scale: 'ops', value: function (u, v) { return fmt(v); } }),
      lineSeries('errors/s', '#f85149', { scale: 'errs', value: function (u, v) { return fmt(v, 1); } })
    ], { x: { time: true }, ops: { range: function (u, min, max) { return [0, Math.max(max || 0, 10)]; } },
      errs: { range: function (u, min, max) { return [0, Math.max(max || 0, 1)]; } } },
    [axis({ scale: 'ops', size: 48 }), axis({ scale: 'errs', side: 1, size: 40, stroke: '#f85149', grid: { show: false } })]);
    makeChart('chart-timeline', [
      { label: 'breaker', stroke: '#3fb950', scale: 'lanes', paths: function () { return null; },
        points: { show: false }, value: function (u, v) { return v === null || v === undefined ? '–' : BREAKER_NAMES[v]; } },
      { label: 'health check', stroke: '#58a6ff', scale: 'lanes', paths: function () { return null; },
        points: { show: false }, value: function (u, v) { return v === null || v === undefined ? '–' : (v ? 'healthy' : 'UNHEALTHY'); } }
    ], { x: { time: true }, lanes: { range: [0, 2] } },
    [axis({ scale: 'lanes', size: 60, splits: function () { return [0.5, 1.5]; },
      values: function (u, vals) { return vals.map(function (v) { return v > 1 ? 'breaker' : 'health'; }); },
      grid: { show: false } })],
    { draw: [drawTimeline] });
  }

  /** The timeline's lanes: the breaker's state as coloured spans, each health check as a dot. */
  function drawTimeline(u) {
    var xs = u.data[0];
    if (!xs.length) return;
    var ctx = u.ctx;
    var top = u.valToPos(2, 'lanes', true), middle = u.valToPos(1, 'lanes', true),
      bottom = u.valToPos(0, 'lanes', true);
    ctx.save();
    for (var i = 0; i < xs.length; i++) {
      var x0 = u.valToPos(xs[i], 'x', true);
      var x1 = i + 1 < xs.length ? u.valToPos(xs[i + 1], 'x', true) : u.bbox.left + u.bbox.width;
      var state = history[i] ? history[i].breaker : 'closed';
      ctx.fillStyle = BREAKER_FILL[state] || '#6e7681';
      ctx.fillRect(x0, top + 4, Math.max(1, x1 - x0), middle - top - 8);
      var health = history[i] ? history[i].health : null;
      if (health) {
        ctx.fillStyle = health === 'healthy' ? '#3fb950' : '#f85149';
        ctx.beginPath();
        ctx.arc(x0, (middle + bottom) / 2, 5 * devicePixelRatio, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
    ctx.restore();
  }

  function updateCharts() {
    var xs = history.map(function (p) { return p.t / 1000; });
    var target = latest ? latest.sizing.targetUtilization : null;
    charts.pool.setData([xs, column('size'), column('active'), column('idle'), column('pending'), column('target')]);
    charts.util.setData([xs, column('utilization'), xs.map(function () { return target; })]);
    charts.wait.setData([xs, column('waitP50Ms'), column('waitP99Ms')]);
    charts.ops.setData([xs, column('ops'), column('errs')]);
    charts.timeline.setData([xs,
      history.map(function (p) { var level = BREAKER_LEVEL[p.breaker]; return level === undefined ? null : level; }),
      history.map(function (p) { return p.health === null || p.health === undefined ? null : (p.health === 'healthy' ? 1 : 0); })]);
  }

  function render(s) {
    latest = s;
    var p = s.pool;
    if (s.point) addPoints([s.point]);
    var last = history[history.length - 1] || { ops: 0, errs: 0, waitP99Ms: null };

    $('db').textContent = 'postgresql ' + s.database.address + '/' + s.database.database +
      ' as ' + s.database.user + ' (' + (s.database.kind === 'local' ? 'throwaway local server'
      : s.database.kind === 'external' ? 'DATABASE_URL' : 'embedded pglite') +
      '), through the fault proxy';
    var proxy = s.faults.proxy;
    setBadge($('proxy'), proxy.mode + (proxy.latencyMs ? ' +' + proxy.latencyMs + ' ms' : ''),
      PROXY_COLOURS[proxy.mode] || '');
    setBadge($('server'), s.faults.busy ? s.faults.busy + '…' : s.faults.server,
      s.faults.busy ? 'amber' : SERVER_COLOURS[s.faults.server]);
    var breaker = s.breaker.state;
    setBadge($('breaker'), breaker, BREAKER_COLOURS[breaker] || '');
    setBadge($('live'), s.probes.live ? 'live' : 'not live', s.probes.live ? 'green' : 'red');
    setBadge($('ready'), s.probes.ready ? 'ready' : 'not ready', s.probes.ready ? 'green' : 'red');
    $('ready').title = s.probes.reasons.join('; ');

    $('t-size').textContent = p.poolSize;
    $('t-size-sub').textContent = 'min ' + p.minSize + ' · max ' + p.maxSize +
      ' · target ' + p.targetSize + (p.connecting ? ' · +' + p.connecting + ' connecting' : '');
    $('t-active').textContent = p.activeConnections;
    $('t-idle').textContent = p.idleConnections;
    $('t-pending').textContent = p.pending;
    $('t-ops').textContent = fmt(last.ops);
    $('t-ops-sub').textContent = fmt(s.load.window.okPerSecond) + ' avg, last 5 s';
    $('t-errors').textContent = fmt(last.errs);
    $('t-errors').style.color = last.errs > 0 ? 'var(--red)' : '';
    $('t-errors-sub').textContent = s.load.errors + ' since start';
    $('t-wait').textContent = fmt(last.waitP99Ms, 1);
    $('t-p99').textContent = fmt(s.load.window.p99Ms, 1);
    $('t-p99-sub').textContent = 'ms, last 5 s (p50 ' + fmt(s.load.window.p50Ms, 1) + ')';
    $('t-workers').textContent = s.load.workers;
    $('t-workers-sub').textContent = s.load.running !== s.load.workers
      ? s.load.running + ' still running' : 'max ' + s.load.maxWorkers;
    if (!sliderBusy) {
      $('workers').max = s.load.maxWorkers;
      $('workers').value = s.load.workers;
      $('workers-label').textContent = s.load.workers;
    }

    var active = s.faults.active;
    $('active-fault').textContent = active
      ? active.name + ': ' + fmt(Math.max(0, (active.endsAt - Date.now()) / 1000), 1) + ' s left'
      : (proxy.mode === 'refusing' ? 'refusing new connections' : '');
    $('latency-now').textContent = proxy.latencyMs
      ? 'now +' + proxy.latencyMs + ' ms per round trip' : 'to every round trip (0 removes it)';

    var anyServerFault = false;
    document.querySelectorAll('[data-fault]').forEach(function (button) {
      var name = button.getAttribute('data-fault');
      var a = s.faults.available[name];
      if (!a) return;
      var row = document.querySelector('[data-server-fault="' + name + '"]');
      if (row) {
        row.hidden = !a.supported;
        if (a.supported) anyServerFault = true;
      }
      button.disabled = !a.available;
      button.title = a.available ? '' : (a.reason || '');
    });
    $('server-faults').hidden = !anyServerFault;
    $('health-check').disabled = !s.features.healthCheck;

    renderHealth(s);
    renderCounters(s);
    updateCharts();
  }

  function renderHealth(s) {
    var r = s.health.lastReport;
    if (!r) {
      setKv($('health'), [['status', 'no check has finished yet']]);
      $('health-note').textContent = '';
      return;
    }
    setKv($('health'), [
      ['status', r.healthy ? 'healthy' : 'UNHEALTHY'],
      ['reasons', r.reasons.length ? r.reasons.join('; ') : '–'],
      ['checked', r.checked + (r.keepalives ? ' (' + r.keepalives + ' keepalive pings)' : '')],
      ['failed / broken', r.failed + ' / ' + (r.broken || 0)],
      ['expired', r.expired],
      ['replaced', r.replaced],
      ['size / min', r.size + ' / ' + r.minSize],
      ['breaker', r.breakerState || '–'],
      ['duration', fmt(r.durationMs, 1) + ' ms'],
      ['last error', r.lastError ? r.lastError.reason + ': ' + r.lastError.message : '–']
    ]);
    $('health-note').textContent = typeof s.health.ageMs === 'number'
      ? 'finished ' + fmt(s.health.ageMs / 1000, 1) + ' s ago' : '';
  }

  function renderCounters(s) {
    var p = s.pool;
    var pairs = [
      ['acquired / released', p.acquired + ' / ' + p.released],
      ['waited', p.waited],
      ['timeouts', p.timeouts],
      ['created / destroyed', p.created + ' / ' + p.destroyed],
      ['connect attempts / errors', p.connectAttempts + ' / ' + p.connectErrors],
      ['failed fast (breaker)', p.circuitRejections],
      ['acquire wait p50 / p99', fmt(p.acquireWaitSeconds.p50 * 1000, 2) + ' / ' + fmt(p.acquireWaitSeconds.p99 * 1000, 2) + ' ms (since start)']
    ];
    var reasons = Object.keys(p.destroyedByReason || {}).filter(function (k) {
      return p.destroyedByReason[k] > 0;
    }).map(function (k) { return k + ' ' + p.destroyedByReason[k]; });
    pairs.push(['destroyed by reason', reasons.length ? reasons.join(', ') : '–']);
    var proxy = s.faults.proxy;
    pairs.push(['proxy: open / accepted / refused / cut', proxy.open + ' / ' + proxy.accepted + ' / ' + proxy.refused + ' / ' + proxy.cut]);
    setKv($('counters'), pairs);
    var codes = Object.keys(s.load.errorsByCode).map(function (k) {
      return k + ' × ' + s.load.errorsByCode[k];
    });
    $('codes').textContent = codes.length ? codes.join('\n') : 'none';
    $('codes').style.whiteSpace = 'pre';
  }

  /** Merges events by sequence number, newest first: the stream and /api/stats may race. */
  function addEvents(list) {
    list.forEach(function (e) { events[e.seq] = e; });
    var seqs = Object.keys(events).map(Number).sort(function (a, b) { return b - a; });
    seqs.slice(150).forEach(function (seq) { delete events[seq]; });
    var ul = $('events');
    ul.textContent = '';
    seqs.slice(0, 150).forEach(function (seq) {
      var e = events[seq];
      var li = document.createElement('li');
      li.className = e.level;
      var t = document.createElement('span'); t.className = 't';
      t.textContent = new Date(e.at).toLocaleTimeString();
      var k = document.createElement('span'); k.className = 'k'; k.textContent = e.type;
      var m = document.createElement('span'); m.className = 'm'; m.textContent = e.message;
      li.appendChild(t); li.appendChild(k); li.appendChild(m);
      ul.appendChild(li);
    });
  }

  function post(path, body) {
    return fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) throw new Error((json.error && json.error.message) || response.statusText);
        return json;
      });
    });
  }

  function parametersOf(name) {
    if (name === 'outage') return { seconds: Number($('outage-seconds').value) };
    if (name === 'blackhole') return { seconds: Number($('blackhole-seconds').value) };
    if (name === 'latency') return { ms: Number($('latency-ms').value) };
    return {};
  }

  document.querySelectorAll('[data-fault]').forEach(function (button) {
    button.addEventListener('click', function () {
      var name = button.getAttribute('data-fault');
      button.disabled = true;
      toast(name + '…');
      post('/api/faults/' + name, parametersOf(name)).then(function (json) {
        var result = json.result || {};
        toast(name + ': done' +
          (typeof result.cut === 'number' ? ' (' + result.cut + ' connections cut)' : '') +
          (typeof result.terminated === 'number' ? ' (' + result.terminated + ' backends terminated)' : '') +
          (typeof result.durationMs === 'number' ? ' (back after ' + result.durationMs + ' ms)' : ''));
      }).catch(function (error) { toast(name + ' failed: ' + error.message); })
        .then(function () { button.disabled = false; });
    });
  });

  var slider = $('workers');
  slider.addEventListener('input', function () {
    sliderBusy = true;
    $('workers-label').textContent = slider.value;
  });
  slider.addEventListener('change', function () {
    post('/api/load', { workers: Number(slider.value) }).then(function (json) {
      toast('load: ' + json.workers + ' workers');
    }).catch(function (error) { toast('load failed: ' + error.message); })
      .then(function () { sliderBusy = false; });
  });

  $('health-check').addEventListener('click', function () {
    toast('health check…');
    post('/api/health-check').then(function (report) {
      toast('health check: ' + (report.healthy ? 'healthy' : 'unhealthy') + ', checked ' +
        report.checked + ', replaced ' + report.replaced);
    }).catch(function (error) { toast('health check failed: ' + error.message); });
  });

  buildCharts();
  window.addEventListener('resize', function () {
    Object.keys(charts).forEach(function (key) {
      charts[key].setSize(size(charts[key].root.parentNode));
    });
  });
  // For a browser test or the console: the charts and the samples they show.
  window.dashboard = { charts: charts, history: function () { return history; } };

  fetch('/api/stats').then(function (response) { return response.json(); }).then(function (s) {
    addEvents(s.events);
    addPoints(s.history || []);
    render(s);
  }).catch(function (error) { toast('could not load stats: ' + error.message); });

  var source = new EventSource('/api/events');
  source.addEventListener('open', function () { setBadge($('stream'), 'live', 'green'); });
  source.addEventListener('error', function () { setBadge($('stream'), 'reconnecting', 'amber'); });
  source.addEventListener('snapshot', function (message) { render(JSON.parse(message.data)); });
  source.addEventListener('event', function (message) { addEvents([JSON.parse(message.data)]); });
})();
</script>
</body>
</html>
`;
