/**
 * The dashboard: one self-contained page (inline CSS and vanilla JavaScript, no CDN, no build
 * step), because the service must work on a machine without internet access. It reads
 * `/api/stats` once, then follows `/api/events` (Server-Sent Events), and draws the last minute
 * of figures on canvases.
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
  canvas { width: 100%; height: 190px; display: block; }
  .legend { display: flex; gap: 14px; font-size: 12px; color: var(--muted); margin-top: 4px; }
  .legend i { display: inline-block; width: 10px; height: 3px; margin-right: 5px;
    vertical-align: middle; }
  .cols { display: grid; grid-template-columns: 1.15fr 1fr 1fr; gap: 14px; }
  button { background: #21262d; color: var(--text); border: 1px solid #3b4450; border-radius: 6px;
    padding: 6px 10px; font: inherit; cursor: pointer; }
  button:hover:not(:disabled) { border-color: var(--blue); }
  button:disabled { opacity: .45; cursor: not-allowed; }
  button.danger:not(:disabled) { border-color: #6e3630; }
  .fault { display: grid; grid-template-columns: 170px 1fr; gap: 8px; align-items: center;
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
    <div class="tile"><div class="label">pending</div><div class="value" id="t-pending">–</div><div class="sub" id="t-pending-sub"></div></div>
    <div class="tile"><div class="label">ops/s</div><div class="value" id="t-ops">–</div><div class="sub" id="t-ops-sub"></div></div>
    <div class="tile"><div class="label">errors/s</div><div class="value" id="t-errors">–</div><div class="sub" id="t-errors-sub"></div></div>
    <div class="tile"><div class="label">latency p50</div><div class="value" id="t-p50">–</div><div class="sub">ms, last 5 s</div></div>
    <div class="tile"><div class="label">latency p99</div><div class="value" id="t-p99">–</div><div class="sub">ms, last 5 s</div></div>
    <div class="tile"><div class="label">workers</div><div class="value" id="t-workers">–</div><div class="sub" id="t-workers-sub"></div></div>
  </section>
  <section class="charts">
    <div class="panel">
      <h2>Connections (last 60 s)</h2>
      <canvas id="chart-pool"></canvas>
      <div class="legend" id="legend-pool"></div>
    </div>
    <div class="panel">
      <h2>Throughput (last 60 s)</h2>
      <canvas id="chart-ops"></canvas>
      <div class="legend" id="legend-ops"></div>
    </div>
  </section>
  <section class="cols">
    <div class="panel">
      <h2>Make the database misbehave</h2>
      <div class="fault"><button class="danger" data-fault="kill-idle">Kill idle connections</button><span class="why" data-why="kill-idle"></span></div>
      <div class="fault"><button class="danger" data-fault="kill-all">Kill all connections</button><span class="why" data-why="kill-all"></span></div>
      <div class="fault"><button class="danger" data-fault="restart">Restart server (crash)</button><span class="why" data-why="restart"></span></div>
      <div class="fault"><button class="danger" data-fault="stop">Stop server</button><span class="why" data-why="stop"></span></div>
      <div class="fault"><button data-fault="start">Start server</button><span class="why" data-why="start"></span></div>
      <div class="load">
        <label for="workers">Load: <b id="workers-label">0</b> concurrent workers (queries back to back through the pool)</label>
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
  var WINDOW_MS = 60000;
  var history = [];
  var events = {};
  var latest = null;
  var sliderBusy = false;

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
  var SERVER_COLOURS = { up: 'green', down: 'red', restarting: 'amber', stopping: 'amber',
    starting: 'amber', unknown: '' };

  function pointOf(s) {
    return { t: s.at, size: s.pool.poolSize, active: s.pool.activeConnections,
      idle: s.pool.idleConnections, pending: s.pool.pending, ok: s.load.ok, errors: s.load.errors };
  }

  /** Adds samples in time order, with ops/s and errors/s from the running totals before. */
  function addPoints(points) {
    var byTime = {};
    history.concat(points).forEach(function (point) { byTime[point.t] = point; });
    var sorted = Object.keys(byTime).map(Number).sort(function (a, b) { return a - b; });
    var end = sorted.length ? sorted[sorted.length - 1] : 0;
    history = [];
    sorted.forEach(function (t) {
      var point = byTime[t];
      if (t < end - WINDOW_MS) return;
      var before = history.length ? history[history.length - 1] : null;
      var dt = before ? (t - before.t) / 1000 : 0;
      point.ops = dt > 0 ? Math.max(0, (point.ok - before.ok) / dt) : 0;
      point.errs = dt > 0 ? Math.max(0, (point.errors - before.errors) / dt) : 0;
      history.push(point);
    });
  }

  function render(s) {
    latest = s;
    var p = s.pool;
    addPoints([pointOf(s)]);
    var last = history[history.length - 1];
    var ops = last.ops, errs = last.errs;

    $('db').textContent = 'postgresql ' + s.database.address + '/' + s.database.database +
      ' as ' + s.database.user + ' (' + (s.database.kind === 'local' ? 'throwaway local server'
      : s.database.kind === 'external' ? 'DATABASE_URL' : 'embedded pglite') + ')';
    setBadge($('server'), s.faults.busy ? s.faults.busy + '…' : s.faults.server,
      s.faults.busy ? 'amber' : SERVER_COLOURS[s.faults.server]);
    var breaker = s.breaker.state;
    setBadge($('breaker'), breaker, BREAKER_COLOURS[breaker] || '');
    setBadge($('live'), s.probes.live ? 'live' : 'not live', s.probes.live ? 'green' : 'red');
    setBadge($('ready'), s.probes.ready ? 'ready' : 'not ready', s.probes.ready ? 'green' : 'red');
    $('ready').title = s.probes.reasons.join('; ');

    $('t-size').textContent = p.poolSize;
    $('t-size-sub').textContent = 'min ' + p.minSize + ' · max ' + p.maxSize +
      (typeof p.targetSize === 'number' ? ' · target ' + p.targetSize : '') +
      (p.connecting ? ' · +' + p.connecting + ' connecting' : '');
    $('t-active').textContent = p.activeConnections;
    $('t-idle').textContent = p.idleConnections;
    $('t-pending').textContent = p.pending;
    $('t-pending-sub').textContent = 'waiting for a connection';
    $('t-ops').textContent = fmt(ops);
    $('t-ops-sub').textContent = fmt(s.load.window.okPerSecond) + ' avg, last 5 s';
    $('t-errors').textContent = fmt(errs);
    $('t-errors').style.color = errs > 0 ? 'var(--red)' : '';
    $('t-errors-sub').textContent = s.load.errors + ' since start';
    $('t-p50').textContent = fmt(s.load.window.p50Ms, 1);
    $('t-p99').textContent = fmt(s.load.window.p99Ms, 1);
    $('t-workers').textContent = s.load.workers;
    $('t-workers-sub').textContent = s.load.running !== s.load.workers
      ? s.load.running + ' still running' : 'max ' + s.load.maxWorkers;
    if (!sliderBusy) {
      $('workers').max = s.load.maxWorkers;
      $('workers').value = s.load.workers;
      $('workers-label').textContent = s.load.workers;
    }

    document.querySelectorAll('[data-fault]').forEach(function (button) {
      var name = button.getAttribute('data-fault');
      var a = s.faults.available[name];
      button.disabled = !a.available;
      button.title = a.available ? '' : a.reason;
      document.querySelector('[data-why="' + name + '"]').textContent =
        a.available ? '' : a.reason;
    });
    $('health-check').disabled = !s.features.healthCheck;
    $('health-check').title = s.features.healthCheck ? '' : 'this pool build has no health checker';

    renderHealth(s);
    renderCounters(s);
    drawAll();
  }

  function renderHealth(s) {
    var r = s.health.lastReport;
    if (!s.features.healthCheck) {
      setKv($('health'), []);
      $('health-note').textContent = 'This pool build has no health checker yet (pool.runHealthCheck is missing).';
      return;
    }
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
      ['errors (driver ops)', p.errors]
    ];
    if (typeof p.connectAttempts === 'number') pairs.push(['connect attempts', p.connectAttempts]);
    if (typeof p.connectErrors === 'number') pairs.push(['connect errors', p.connectErrors]);
    if (typeof p.circuitRejections === 'number') pairs.push(['failed fast (breaker)', p.circuitRejections]);
    var reasons = Object.keys(p.destroyedByReason || {}).filter(function (k) {
      return p.destroyedByReason[k] > 0;
    }).map(function (k) { return k + ' ' + p.destroyedByReason[k]; });
    pairs.push(['destroyed by reason', reasons.length ? reasons.join(', ') : '–']);
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

  var SERIES_POOL = [
    { key: 'size', label: 'pool size', colour: '#58a6ff' },
    { key: 'active', label: 'active', colour: '#3fb950' },
    { key: 'idle', label: 'idle', colour: '#8a97a6' },
    { key: 'pending', label: 'pending', colour: '#d29922' }
  ];
  var SERIES_OPS = [
    { key: 'ops', label: 'ops/s', colour: '#39c5cf' },
    { key: 'errs', label: 'errors/s (right scale)', colour: '#f85149', right: true }
  ];

  function legend(el, series) {
    el.textContent = '';
    series.forEach(function (s) {
      var span = document.createElement('span');
      var i = document.createElement('i'); i.style.background = s.colour;
      span.appendChild(i); span.appendChild(document.createTextNode(s.label));
      el.appendChild(span);
    });
  }

  function niceMax(value) {
    if (value <= 0) return 1;
    var exp = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (value <= steps[i] * exp) return steps[i] * exp;
    return 10 * exp;
  }

  function draw(canvas, series, minMax) {
    var ratio = window.devicePixelRatio || 1;
    var width = canvas.clientWidth, height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    var ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    var hasRight = series.some(function (s) { return s.right; });
    var left = 44, right = hasRight ? 40 : 8, top = 8, bottom = 20;
    var plotW = width - left - right, plotH = height - top - bottom;
    var end = history.length ? history[history.length - 1].t : Date.now();
    var start = end - WINDOW_MS;
    // Each side has its own scale, so a few errors per second stay visible beside
    // thousands of operations.
    var max = { left: minMax, right: 1 };
    history.forEach(function (point) {
      series.forEach(function (s) {
        var side = s.right ? 'right' : 'left';
        if (point[s.key] > max[side]) max[side] = point[s.key];
      });
    });
    max.left = niceMax(max.left);
    max.right = niceMax(max.right);
    function label(v) { return v >= 100 ? v.toFixed(0) : String(Math.round(v * 10) / 10); }
    ctx.font = '11px system-ui, sans-serif';
    ctx.strokeStyle = '#2a3541';
    ctx.lineWidth = 1;
    for (var g = 0; g <= 4; g++) {
      var y = top + plotH - (plotH * g) / 4;
      ctx.beginPath(); ctx.moveTo(left, y + 0.5); ctx.lineTo(left + plotW, y + 0.5); ctx.stroke();
      ctx.fillStyle = '#8a97a6';
      ctx.fillText(label((max.left * g) / 4), 4, y + 4);
      if (hasRight) {
        ctx.fillStyle = '#f85149';
        ctx.fillText(label((max.right * g) / 4), left + plotW + 6, y + 4);
      }
    }
    ctx.fillStyle = '#8a97a6';
    for (var s10 = 0; s10 <= 60; s10 += 10) {
      var x = left + plotW - (plotW * s10) / 60;
      ctx.fillText(s10 === 0 ? 'now' : '-' + s10 + 's', x - 12, height - 5);
    }
    series.forEach(function (s) {
      var scale = s.right ? max.right : max.left;
      ctx.strokeStyle = s.colour;
      ctx.lineWidth = s.key === 'size' || s.key === 'ops' ? 2 : 1.5;
      ctx.beginPath();
      var started = false;
      history.forEach(function (point) {
        var px = left + ((point.t - start) / WINDOW_MS) * plotW;
        var py = top + plotH - (point[s.key] / scale) * plotH;
        if (!started) { ctx.moveTo(px, py); started = true; } else ctx.lineTo(px, py);
      });
      ctx.stroke();
    });
  }

  function drawAll() {
    var maxSize = latest ? latest.pool.maxSize : 10;
    draw($('chart-pool'), SERIES_POOL, maxSize);
    draw($('chart-ops'), SERIES_OPS, 10);
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

  document.querySelectorAll('[data-fault]').forEach(function (button) {
    button.addEventListener('click', function () {
      var name = button.getAttribute('data-fault');
      button.disabled = true;
      toast(name + '…');
      post('/api/faults/' + name).then(function (json) {
        var result = json.result;
        toast(name + ': done' + (result && typeof result.terminated === 'number'
          ? ' (' + result.terminated + ' backends terminated)' : '')
          + (result && typeof result.durationMs === 'number'
          ? ' (back after ' + result.durationMs + ' ms)' : ''));
      }).catch(function (error) { toast(name + ' failed: ' + error.message); });
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

  legend($('legend-pool'), SERIES_POOL);
  legend($('legend-ops'), SERIES_OPS);
  window.addEventListener('resize', drawAll);

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
