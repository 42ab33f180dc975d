/* report.html's page code: plain JS, no library, no request.  It reads
   the profile from the #mpprof-data element (see src/output/mpp_html.c)
   and draws the verdict, the time bars, the timeline, the flame graph and
   the two tables.  Names come from the profiled program, so they reach
   the page only through textContent and canvas text, never as markup.

   What it drew is written into the DOM as data attributes, so that a
   headless browser's --dump-dom can check the page (tests/integration/
   test_html.py): data-render, data-errors, data-csp-violations on <body>,
   data-lanes/data-pids on the timeline, data-total-us/data-names/
   data-process on the flame graph.  "#process=PID" in the address
   selects that process in the flame graph's filter, as a click would
   (see fromHash). */
(function () {
  'use strict';
  var body = document.body;
  var errors = [];
  function noteError(msg) {
    errors.push(String(msg));
    body.setAttribute('data-errors', String(errors.length));
    body.setAttribute('data-error-messages', errors.slice(0, 5).join(' | '));
  }
  window.addEventListener('error', function (e) { noteError(e.message || 'error'); });
  window.addEventListener('unhandledrejection', function (e) {
    noteError('unhandled rejection: ' + e.reason);
  });
  /* The page's policy blocks every request; an attempt is a bug. */
  var violations = 0;
  document.addEventListener('securitypolicyviolation', function (e) {
    violations++;
    body.setAttribute('data-csp-violations', String(violations));
    body.setAttribute('data-csp-blocked', String(e.blockedURI));
  });

  var CAT_COLOURS = {
    compute: '#4e79a7', pickle: '#f28e2b', unpickle: '#edc948',
    lock_wait: '#e15759', ipc_wait: '#b07aa1', startup: '#59a14f',
    idle: '#d0d4d9', other_wait: '#9c755f'
  };
  var CAT_TITLES = {
    compute: 'compute', pickle: 'pickle', unpickle: 'unpickle',
    lock_wait: 'lock wait', ipc_wait: 'IPC wait', startup: 'start-up',
    idle: 'idle', other_wait: 'other wait'
  };
  var BAR_KEYS = ['compute', 'pickle', 'unpickle', 'lock_wait', 'ipc_wait',
                  'startup', 'idle', 'other_wait'];

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmtSecs(s) {
    if (!isFinite(s)) return '?';
    var a = Math.abs(s);
    if (a === 0) return '0 s';
    if (a >= 100) return s.toFixed(0) + ' s';
    if (a >= 1) return s.toPrecision(3) + ' s';
    if (a >= 1e-3) return (s * 1e3).toPrecision(3) + ' ms';
    return (s * 1e6).toPrecision(3) + ' \u00b5s';
  }
  function fmtUs(us) { return fmtSecs(us / 1e6); }
  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : word.slice(-1) === 's' ? 'es' : 's'); }
  function pct(part, whole) {
    if (!(whole > 0)) return '';
    var p = part / whole * 100;
    return p > 0 && p < 1 ? '<1%' : Math.round(p) + '%';
  }
  function legend(box, keys) {
    keys.forEach(function (k) {
      var s = el('span', CAT_TITLES[k] || k);
      s.style.setProperty('--c', CAT_COLOURS[k] || '#999');
      box.appendChild(s);
    });
  }
  function baseName(file) {
    var i = String(file).lastIndexOf('/');
    return i < 0 ? String(file) : String(file).slice(i + 1);
  }
  /* pstats' own spelling of a function: file:line(name), or {name}. */
  function pstatsKey(file, line, name) {
    return file === '~' && line === 0 ? '{' + name + '}'
                                      : file + ':' + line + '(' + name + ')';
  }
  function shortLabel(file, line, name) {
    return file === '~' && line === 0 ? '{' + name + '}'
                                      : name + ' (' + baseName(file) + ':' + line + ')';
  }
  /* A canvas sized to its box at the screen's pixel ratio. */
  function setupCanvas(c, h) {
    var w = Math.max(320, c.parentNode.clientWidth || 1000);
    var r = window.devicePixelRatio || 1;
    c.width = Math.round(w * r);
    c.height = Math.round(h * r);
    c.style.height = h + 'px';
    var ctx = c.getContext('2d');
    ctx.setTransform(r, 0, 0, r, 0, 0);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    return { ctx: ctx, w: w, h: h };
  }
  var tip = $('tooltip');
  function showTip(ev, text) {
    tip.textContent = text;
    tip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    var r = tip.getBoundingClientRect();
    if (x + r.width > window.innerWidth) x = Math.max(0, ev.clientX - r.width - 10);
    if (y + r.height > window.innerHeight) y = Math.max(0, ev.clientY - r.height - 10);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function hideTip() { tip.hidden = true; }

  var D = JSON.parse($('mpprof-data').textContent);
  var R = D.report, M = D.model;
  var FUNCS = M.funcs;
  function funcLabel(f) {
    var fn = FUNCS[f];
    return fn ? shortLabel(fn[0], fn[1], fn[2]) : '?';
  }
  function procLabel(i) {
    var p = M.procs[i];
    return (p.name || 'process') + ' (' + p.pid + ')';
  }

  /* ---- header, verdict and where the time went ------------------------ */

  function drawHeader() {
    var cmd = (R.command || []).join(' ');
    $('run-info').textContent = cmd + ' \u2014 ' + fmtSecs(R.wall_s) + ' wall, ' +
      plural(R.processes.length, 'process') + ', Python ' + (R.python || '?') +
      ', exit status ' + R.exit_status + ', mpprof ' + R.mpprof_version;
    document.title = 'mpprof: ' + cmd;
    var v = R.verdict || {}, p = $('verdict');
    p.appendChild(document.createTextNode('Leading cost: '));
    p.appendChild(el('b', CAT_TITLES[v.leading] || v.leading));
    p.appendChild(document.createTextNode(', ' + fmtSecs(v.seconds || 0) + ' (' +
      pct(v.share || 0, 1) + ' of thread time' +
      (v.parallel ? '' : ', one process') + ').' +
      (v.hint ? ' ' + v.hint.charAt(0).toUpperCase() + v.hint.slice(1) : '')));
  }

  function barRow(box, label, cats, total, scale, cls) {
    var row = el('div', null, 'bar-row' + (cls ? ' ' + cls : ''));
    var lab = el('div', label, 'label');
    lab.title = label;
    row.appendChild(lab);
    var bar = el('div', null, 'bar');
    BAR_KEYS.forEach(function (k) {
      var v = cats[k + '_s'] || 0;
      if (!(v > 0) || !(scale > 0)) return;
      var seg = el('div');
      seg.style.width = (v / scale * 100) + '%';
      seg.style.background = CAT_COLOURS[k];
      seg.title = CAT_TITLES[k] + ': ' + fmtSecs(v) + ' (' + pct(v, total) + ')';
      bar.appendChild(seg);
    });
    row.appendChild(bar);
    row.appendChild(el('div', fmtSecs(total), 'total'));
    box.appendChild(row);
  }

  function drawBars() {
    legend($('legend-time'), BAR_KEYS);
    var box = $('time-bars');
    barRow(box, 'all processes', R.categories, R.thread_s, R.thread_s, 'all');
    var max = 0;
    R.processes.forEach(function (p) { max = Math.max(max, p.thread_s); });
    R.processes.forEach(function (p) {
      barRow(box, (p.name || 'process') + ' (' + p.pid + ', ' + p.role + ')',
             p.categories, p.thread_s, max);
    });
    box.setAttribute('data-rows', String(R.processes.length));
  }

  /* ---- compare: the two runs and the lost time ------------------------ */

  var LOST_KEYS = ['pickle', 'unpickle', 'lock_wait', 'ipc_wait', 'startup',
                   'imbalance', 'other'];
  CAT_COLOURS.imbalance = '#ff9da7';
  CAT_COLOURS.other = '#bab0ac';
  CAT_COLOURS.ideal = '#9fb7d0';
  CAT_TITLES.imbalance = 'imbalance';
  CAT_TITLES.other = 'other';
  CAT_TITLES.ideal = 'ideal';

  /* One bar of named parts, all on one scale (seconds). */
  function partsRow(box, label, parts, scale, total) {
    var row = el('div', null, 'bar-row');
    var lab = el('div', label, 'label');
    lab.title = label;
    row.appendChild(lab);
    var bar = el('div', null, 'bar'), drawn = 0;
    parts.forEach(function (pt) {
      if (!(pt[1] > 0) || !(scale > 0)) return;
      var seg = el('div');
      seg.style.width = (pt[1] / scale * 100) + '%';
      seg.style.background = CAT_COLOURS[pt[0]];
      seg.title = CAT_TITLES[pt[0]] + ': ' + fmtSecs(pt[1]);
      bar.appendChild(seg);
      drawn++;
    });
    row.appendChild(bar);
    row.appendChild(el('div', fmtSecs(total), 'total'));
    box.appendChild(row);
    return drawn;
  }

  function drawCompare() {
    var C = D.compare, B = D.baseline.report, sec = $('sec-compare');
    sec.hidden = false;
    document.querySelector('h1').textContent = 'mpprof compare';
    var ideal = C.ideal_speedup > 0 ? C.baseline.wall_s / C.ideal_speedup : 0;
    $('compare-summary').textContent = 'Speedup ' + C.speedup.toFixed(2) + '\u00d7 of an ideal ' +
      C.ideal_speedup.toFixed(2) + '\u00d7 (' + C.parallel.workers + ' workers, efficiency ' +
      pct(C.efficiency, 1) + '): ' + fmtSecs(C.gap_s) + ' lost against the ideal wall time of ' +
      fmtSecs(ideal) + '.  Baseline: ' + (C.baseline.command || []).join(' ') + ' (' +
      plural(C.baseline.processes, 'process') + '); parallel: ' +
      (C.parallel.command || []).join(' ') + ' (' + plural(C.parallel.processes, 'process') + ').' +
      (C.lost_s.other < 0 ? '  The parts overlap by ' + fmtSecs(-C.lost_s.other) + ' ("other" is negative).' : '');
    legend($('legend-compare'), ['ideal'].concat(LOST_KEYS));
    var box = $('compare-lost');
    var lost = LOST_KEYS.map(function (k) { return [k, C.lost_s[k]]; });
    var sum = ideal;
    lost.forEach(function (pt) { if (pt[1] > 0) sum += pt[1]; });
    var scale = Math.max(C.baseline.wall_s, C.parallel.wall_s, sum);
    partsRow(box, 'baseline wall', [['ideal', C.baseline.wall_s]], scale, C.baseline.wall_s);
    partsRow(box, 'ideal wall (baseline / ' + C.ideal_speedup + ')', [['ideal', ideal]], scale, ideal);
    var n = partsRow(box, 'parallel wall: ideal + lost', [['ideal', ideal]].concat(lost), scale,
                     C.parallel.wall_s);
    sec.setAttribute('data-speedup', String(C.speedup));
    sec.setAttribute('data-lost-parts', String(n - (ideal > 0 ? 1 : 0)));
    var bars = $('compare-bars'), max = Math.max(B.thread_s, R.thread_s);
    barRow(bars, 'baseline (' + plural(B.processes.length, 'process') + ')', B.categories, B.thread_s, max);
    barRow(bars, 'parallel (' + plural(R.processes.length, 'process') + ')', R.categories, R.thread_s, max);
  }

  /* ---- the timeline --------------------------------------------------- */

  var TL = { c: $('timeline'), expanded: {}, lanes: [], drag: null };

  function prepTimeline() {
    var t0 = 0, t1 = M.wall_us;
    TL.procs = M.procs.map(function (p, i) {
      var start = p.start_us, end = p.start_us + p.wall_us, all = [], threads = [];
      p.threads.forEach(function (t, ti) {
        var list = [], s = t.spans;
        for (var k = 0; k + 4 < s.length; k += 5) {
          var sp = { cat: s[k], f: s[k + 1], s: s[k + 2], d: s[k + 3], b: s[k + 4], t: ti };
          list.push(sp);
          all.push(sp);
          start = Math.min(start, sp.s);
          end = Math.max(end, sp.s + sp.d);
        }
        threads.push(list);
      });
      /* Outer spans first, so that nested ones are drawn over them. */
      var order = function (a, b) { return a.s - b.s || b.d - a.d; };
      all.sort(order);
      threads.forEach(function (l) { l.sort(order); });
      t0 = Math.min(t0, start);
      t1 = Math.max(t1, end);
      return { i: i, p: p, start: start, end: end, spans: all, threads: threads };
    });
    TL.t0 = t0;
    TL.t1 = Math.max(t1, t0 + 1);
    TL.v0 = TL.t0;
    TL.v1 = TL.t1;
    var cats = M.cats.slice();
    legend($('legend-timeline'), cats);
  }

  function niceStep(span, n) {
    var raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  function drawTimeline() {
    var LABEL = 200, AXIS = 22, LANE = 20, THREAD = 14;
    var lanes = [], y = AXIS;
    TL.procs.forEach(function (pr) {
      lanes.push({ pr: pr, spans: pr.spans, y: y, h: LANE, main: true });
      y += LANE;
      if (TL.expanded[pr.i]) {
        pr.threads.forEach(function (list, ti) {
          lanes.push({ pr: pr, spans: list, y: y, h: THREAD, main: false, ti: ti });
          y += THREAD;
        });
      }
    });
    TL.lanes = lanes;
    var g = setupCanvas(TL.c, y + 4), ctx = g.ctx;
    var plotW = g.w - LABEL - 8, v0 = TL.v0, v1 = TL.v1, k = plotW / (v1 - v0);
    TL.geo = { LABEL: LABEL, plotW: plotW };
    var X = function (t) { return LABEL + (t - v0) * k; };
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, g.w, g.h);
    /* The axis: milliseconds or seconds since the session's start. */
    var step = niceStep(v1 - v0, Math.max(2, plotW / 110));
    ctx.fillStyle = '#5b6570';
    ctx.strokeStyle = '#eceff2';
    for (var t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
      var x = X(t);
      ctx.beginPath();
      ctx.moveTo(x, AXIS - 4);
      ctx.lineTo(x, g.h);
      ctx.stroke();
      ctx.fillText(fmtUs(t), x + 2, AXIS / 2);
    }
    var drawnPids = [];
    lanes.forEach(function (ln, li) {
      var p = ln.pr.p;
      if (li % 2 === 0) { ctx.fillStyle = '#fafbfc'; ctx.fillRect(0, ln.y, g.w, ln.h); }
      ctx.fillStyle = ln.main ? '#1d232a' : '#5b6570';
      var label = ln.main ? (TL.expanded[ln.pr.i] ? '\u25be ' : '\u25b8 ') + procLabel(ln.pr.i)
                          : '    ' + (p.threads[ln.ti].name || 'thread ' + p.threads[ln.ti].tid);
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, ln.y, LABEL - 4, ln.h);
      ctx.clip();
      ctx.fillText(label, 4, ln.y + ln.h / 2);
      ctx.restore();
      ctx.save();
      ctx.beginPath();
      ctx.rect(LABEL, ln.y, plotW, ln.h);
      ctx.clip();
      if (ln.main) {
        /* The process's lifetime, and how it ended when not well. */
        var a = X(ln.pr.start), b = X(ln.pr.end);
        ctx.fillStyle = '#dfe5ec';
        ctx.fillRect(a, ln.y + 3, Math.max(1, b - a), ln.h - 6);
        if (p.exit !== 'ok') {
          ctx.fillStyle = '#c0392b';
          ctx.fillRect(b - 2, ln.y + 1, 3, ln.h - 2);
        }
        drawnPids.push(p.pid);
      }
      /* Spans narrower than a pixel share it: one draw per pixel and
         category, so 200,000 spans cost no more than the lane's width. */
      var last = {}, pad = ln.main ? 3 : 2;
      ln.spans.forEach(function (sp) {
        if (sp.s > v1 || sp.s + sp.d < v0) return;
        var x0 = X(sp.s), w = sp.d * k;
        if (w < 1) {
          var px = Math.floor(x0);
          if (last[sp.cat] === px) return;
          last[sp.cat] = px;
          w = 1;
        }
        ctx.fillStyle = CAT_COLOURS[M.cats[sp.cat]] || '#777';
        ctx.fillRect(x0, ln.y + pad, w, ln.h - 2 * pad);
      });
      ctx.restore();
    });
    /* Parent -> child: a line from the parent's lane where the child
       started down (or up) to the child's lane. */
    ctx.save();
    ctx.beginPath();
    ctx.rect(LABEL, AXIS, plotW, g.h - AXIS);
    ctx.clip();
    ctx.strokeStyle = 'rgba(60, 70, 80, .55)';
    ctx.fillStyle = 'rgba(60, 70, 80, .8)';
    var laneOf = {};
    lanes.forEach(function (ln) { if (ln.main) laneOf[ln.pr.i] = ln; });
    TL.procs.forEach(function (pr) {
      var par = pr.p.parent;
      if (par < 0 || !laneOf[par]) return;
      var x = X(pr.p.start_us), from = laneOf[par], to = laneOf[pr.i];
      var y0 = from.y + from.h / 2, y1 = to.y + (to.y > from.y ? 3 : to.h - 3);
      ctx.beginPath();
      ctx.moveTo(x, y0);
      ctx.lineTo(x, y1);
      ctx.stroke();
      ctx.fillRect(x - 2, y1 - 2, 4, 4);
    });
    ctx.restore();
    TL.c.setAttribute('data-lanes', String(drawnPids.length));
    TL.c.setAttribute('data-pids', drawnPids.join(' '));
  }

  function tlTime(ev) {
    var r = TL.c.getBoundingClientRect();
    return { x: ev.clientX - r.left, y: ev.clientY - r.top,
             t: TL.v0 + (ev.clientX - r.left - TL.geo.LABEL) / TL.geo.plotW * (TL.v1 - TL.v0) };
  }
  var tlPending = false;
  function tlRedraw() {
    if (tlPending) return;
    tlPending = true;
    requestAnimationFrame(function () { tlPending = false; drawTimeline(); });
  }
  function tlHover(ev) {
    var m = tlTime(ev), ln = null;
    TL.lanes.forEach(function (l) { if (m.y >= l.y && m.y < l.y + l.h) ln = l; });
    if (!ln || m.x < TL.geo.LABEL) {
      if (ln) showTip(ev, procLabel(ln.pr.i) + '\nclick to ' + (TL.expanded[ln.pr.i] ? 'hide' : 'show') + ' its threads');
      else hideTip();
      return;
    }
    var tol = 2 / TL.geo.plotW * (TL.v1 - TL.v0), best = null;
    ln.spans.forEach(function (sp) {
      if (sp.s <= m.t + tol && sp.s + sp.d >= m.t - tol && (!best || sp.d < best.d)) best = sp;
    });
    var p = ln.pr.p;
    if (best) {
      var th = p.threads[best.t];
      showTip(ev, (CAT_TITLES[M.cats[best.cat]] || M.cats[best.cat]) + ' ' + fmtUs(best.d) +
        '\n' + (best.f >= 0 ? pstatsKey(FUNCS[best.f][0], FUNCS[best.f][1], FUNCS[best.f][2]) : 'function unknown') +
        '\nat ' + fmtUs(best.s) + ' to ' + fmtUs(best.s + best.d) +
        (best.b ? '\n' + best.b + ' bytes' : '') +
        '\n' + procLabel(ln.pr.i) + ', thread ' + (th.name || th.tid));
    } else {
      showTip(ev, procLabel(ln.pr.i) + '\nstarted ' + fmtUs(p.start_us) + ', ran ' +
        fmtUs(p.wall_us) + ', ' + p.exit + (p.parent >= 0 ? '\nstarted by ' + procLabel(p.parent) : ''));
    }
  }
  function initTimeline() {
    var c = TL.c;
    c.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      var m = tlTime(ev), f = Math.exp(ev.deltaY * 0.002);
      var span = Math.min(TL.t1 - TL.t0, Math.max(10, (TL.v1 - TL.v0) * f));
      var at = (m.t - TL.v0) / (TL.v1 - TL.v0);
      TL.v0 = m.t - at * span;
      TL.v1 = TL.v0 + span;
      tlRedraw();
    }, { passive: false });
    c.addEventListener('mousedown', function (ev) {
      TL.drag = { x: ev.clientX, v0: TL.v0, v1: TL.v1, moved: false };
    });
    window.addEventListener('mouseup', function (ev) {
      var d = TL.drag;
      TL.drag = null;
      if (d && !d.moved) {
        var m = tlTime(ev);
        if (m.x < TL.geo.LABEL) {
          TL.lanes.forEach(function (l) {
            if (l.main && m.y >= l.y && m.y < l.y + l.h) TL.expanded[l.pr.i] = !TL.expanded[l.pr.i];
          });
          tlRedraw();
        }
      }
    });
    c.addEventListener('mousemove', function (ev) {
      var d = TL.drag;
      if (d) {
        var dx = ev.clientX - d.x;
        if (Math.abs(dx) > 2) d.moved = true;
        var dt = -dx / TL.geo.plotW * (d.v1 - d.v0);
        TL.v0 = d.v0 + dt;
        TL.v1 = d.v1 + dt;
        tlRedraw();
        return;
      }
      tlHover(ev);
    });
    c.addEventListener('mouseleave', hideTip);
    c.addEventListener('dblclick', function () { TL.v0 = TL.t0; TL.v1 = TL.t1; tlRedraw(); });
  }

  /* ---- the flame graph ------------------------------------------------ */

  var FG = { c: $('flame'), sel: -1, zoom: null, search: '', colour: 'module', renders: 0 };
  var ROW = 17, MAX_DEPTH = 200, MAX_FRAMES = 30000;

  /*  The call graph of the selection (-1: every process): each function's
      calls and times, its callers -> callees and the roots (the functions
      whose time their callers do not explain, with the time left, as the
      writer found them from every edge), summed over the processes. */
  function buildGraph(sel) {
    var nf = FUNCS.length, ct = new Float64Array(nf), nc = new Float64Array(nf);
    var tt = new Float64Array(nf), rest = new Float64Array(nf), keys = new Map(), out = [];
    M.procs.forEach(function (p, i) {
      if (sel >= 0 && sel !== i) return;
      var s = p.stats, e = p.edges, r = p.roots, k;
      for (k = 0; k + 3 < s.length; k += 4) {
        nc[s[k]] += s[k + 1]; tt[s[k]] += s[k + 2]; ct[s[k]] += s[k + 3];
      }
      for (k = 0; k + 2 < e.length; k += 3) {
        var key = e[k] * nf + e[k + 1], ed = keys.get(key);
        if (!ed) {
          ed = [e[k + 1], 0];
          keys.set(key, ed);
          (out[e[k]] = out[e[k]] || []).push(ed);
        }
        ed[1] += e[k + 2];
      }
      for (k = 0; k + 1 < r.length; k += 2) rest[r[k]] += r[k + 1];
    });
    out.forEach(function (l) { if (l) l.sort(function (x, y) { return y[1] - x[1]; }); });
    var roots = [], total = 0;
    for (var f = 0; f < nf; f++) {
      if (rest[f] > 0) {
        roots.push({ f: f, v: rest[f] });
        total += rest[f];
      }
    }
    roots.sort(function (x, y) { return y.v - x.v; });
    return { ct: ct, nc: nc, tt: tt, out: out, roots: roots, total: total };
  }

  function onPath(node, f) {
    for (var n = node; n; n = n.parent) if (n.f === f) return true;
    return false;
  }
  /* The children of a node on its path: each callee gets the caller's
     edge time scaled by the share of the caller's time this path holds;
     a recursive call stays in its caller's frame. */
  function kids(G, node) {
    if (node.f === -1) return G.roots.map(function (r) { return { f: r.f, v: r.v }; });
    var list = G.out[node.f], res = [], sum = 0;
    if (!list || !(G.ct[node.f] > 0)) return res;
    var scale = node.v / G.ct[node.f];
    list.forEach(function (e) {
      if (onPath(node, e[0])) return;
      var v = e[1] * scale;
      res.push({ f: e[0], v: v });
      sum += v;
    });
    if (sum > node.v && sum > 0) res.forEach(function (r) { r.v *= node.v / sum; });
    return res;
  }

  /* The frames to draw under the zoomed node, widths in the node's time;
     children narrower than half a pixel are merged into one frame. */
  function layout(G, top, depth0, widthPx) {
    var frames = [], stack = [{ n: top, x: 0, d: depth0 }], minV = top.v / widthPx * 0.5;
    while (stack.length) {
      var fr = stack.pop();
      frames.push(fr);
      if (fr.n.f === -2 || fr.d >= MAX_DEPTH || frames.length >= MAX_FRAMES) continue;
      var ks = kids(G, fr.n), x = fr.x, small = 0, nsmall = 0;
      for (var i = 0; i < ks.length; i++) {
        if (ks[i].v < minV) { small += ks[i].v; nsmall++; continue; }
        stack.push({ n: { f: ks[i].f, v: ks[i].v, parent: fr.n }, x: x, d: fr.d + 1 });
        x += ks[i].v;
      }
      if (small >= minV) {
        stack.push({ n: { f: -2, v: small, k: nsmall, parent: fr.n }, x: x, d: fr.d + 1 });
      }
    }
    return frames;
  }

  function hashHue(s) {
    var h = 0;
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
    return Math.abs(h);
  }
  function nodeCat(n) {
    for (; n; n = n.parent) if (n.f >= 0 && FUNCS[n.f][3] >= 0) return M.cats[FUNCS[n.f][3]];
    return null;
  }
  function frameColour(n) {
    if (n.f === -1) return '#b8c2cc';
    if (n.f === -2) return '#d5d9de';
    if (FG.colour === 'category') {
      var c = nodeCat(n);
      return c ? CAT_COLOURS[c] : '#c7d3e0';
    }
    var h = hashHue(FUNCS[n.f][0]);
    return 'hsl(' + (h % 50 + 5) + ',' + (60 + h % 25) + '%,' + (58 + (h >> 5) % 16) + '%)';
  }
  function nodeLabel(n) {
    if (n.f === -1) return FG.sel < 0 ? 'all processes' : procLabel(FG.sel);
    if (n.f === -2) return n.k + ' smaller calls';
    return funcLabel(n.f);
  }
  function matches(n) {
    if (!FG.search || n.f < 0) return false;
    var fn = FUNCS[n.f];
    return (fn[2] + ' ' + fn[0]).toLowerCase().indexOf(FG.search) >= 0;
  }

  function drawFlame() {
    var G = FG.graph;
    var rootNode = FG.root, top = FG.zoom || rootNode, chain = [];
    for (var n = top.parent; n; n = n.parent) chain.unshift(n);
    var w = Math.max(320, FG.c.parentNode.clientWidth || 1000);
    var frames = layout(G, top, chain.length, w);
    var maxD = 0;
    frames.forEach(function (f) { maxD = Math.max(maxD, f.d); });
    var g = setupCanvas(FG.c, (maxD + 1) * ROW + 2), ctx = g.ctx;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, g.w, g.h);
    var k = top.v > 0 ? g.w / top.v : 0, names = {}, nnames = 0, matched = 0;
    FG.drawn = [];
    var all = chain.map(function (a, d) { return { n: a, x: 0, d: d, full: true }; }).concat(frames);
    all.forEach(function (fr) {
      var x = fr.full ? 0 : fr.x * k, wd = fr.full ? g.w : fr.n.v * k, y = fr.d * ROW;
      if (wd < 0.5) return;
      var hit = matches(fr.n);
      ctx.globalAlpha = FG.search && !hit ? 0.35 : 1;
      ctx.fillStyle = hit ? '#e040fb' : frameColour(fr.n);
      ctx.fillRect(x, y, Math.max(wd - 1, 0.5), ROW - 1);
      if (wd > 28) {
        var label = nodeLabel(fr.n), room = Math.floor((wd - 6) / 6.2);
        ctx.fillStyle = '#1d232a';
        ctx.fillText(label.length > room ? label.slice(0, Math.max(room - 1, 1)) + '\u2026' : label, x + 3, y + ROW / 2);
      }
      ctx.globalAlpha = 1;
      FG.drawn.push({ fr: fr, x: x, w: wd, y: y });
      if (fr.n.f >= 0) {
        var fn = FUNCS[fr.n.f], key = pstatsKey(fn[0], fn[1], fn[2]);
        if (!names[key] && nnames < 5000) { names[key] = 1; nnames++; }
        if (hit && !onPath(fr.n.parent, fr.n.f)) matched += fr.full ? 0 : fr.n.v;
      }
    });
    FG.renders++;
    var c = FG.c;
    c.setAttribute('data-process', FG.sel < 0 ? 'all' : String(M.procs[FG.sel].pid));
    c.setAttribute('data-total-us', String(Math.round(rootNode.v)));
    c.setAttribute('data-frames', String(all.length));
    c.setAttribute('data-renders', String(FG.renders));
    c.setAttribute('data-names', JSON.stringify(Object.keys(names)));
    $('flame-info').textContent = nodeLabel(top) + ': ' + fmtUs(top.v) +
      (FG.search ? ', search matches ' + pct(matched, top.v) + ' of it' : '') +
      ' \u2014 click a frame to zoom';
  }

  function fgSelect(sel) {
    FG.sel = sel;
    FG.graph = buildGraph(sel);
    FG.root = { f: -1, v: FG.graph.total, parent: null };
    FG.zoom = null;
    drawFlame();
  }
  function fgAt(ev) {
    var r = FG.c.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top, hit = null;
    (FG.drawn || []).forEach(function (d) {
      if (x >= d.x && x < d.x + d.w && y >= d.y && y < d.y + ROW) hit = d;
    });
    return hit;
  }
  function initFlame() {
    var s = $('flame-proc');
    s.appendChild(new Option('all processes', '-1'));
    M.procs.forEach(function (p, i) { s.appendChild(new Option(procLabel(i), String(i))); });
    s.addEventListener('change', function () { fgSelect(+s.value); });
    $('flame-colour').addEventListener('change', function (ev) { FG.colour = ev.target.value; drawFlame(); });
    $('flame-search').addEventListener('input', function (ev) {
      FG.search = ev.target.value.trim().toLowerCase();
      drawFlame();
    });
    $('flame-reset').addEventListener('click', function () { FG.zoom = null; drawFlame(); });
    FG.c.addEventListener('click', function (ev) {
      var d = fgAt(ev);
      if (!d || d.fr.n.f === -2) return;
      FG.zoom = d.fr.n.f === -1 ? null : d.fr.n;
      drawFlame();
    });
    FG.c.addEventListener('mousemove', function (ev) {
      var d = fgAt(ev);
      if (!d) { hideTip(); return; }
      var n = d.fr.n, G = FG.graph, text = nodeLabel(n) + '\n' + fmtUs(n.v) + ' on this path (' +
        pct(n.v, FG.root.v) + ' of the total)';
      if (n.f >= 0) {
        var fn = FUNCS[n.f];
        text += '\n' + pstatsKey(fn[0], fn[1], fn[2]) + '\nin the selection: ' + G.nc[n.f] +
          ' calls, ' + fmtUs(G.tt[n.f]) + ' own, ' + fmtUs(G.ct[n.f]) + ' cumulative' +
          (nodeCat(n) ? '\ncategory: ' + CAT_TITLES[nodeCat(n)] : '');
      }
      showTip(ev, text);
    });
    FG.c.addEventListener('mouseleave', hideTip);
    fgSelect(-1);
  }

  /* ---- the tables ----------------------------------------------------- */

  /*  A sortable table: cols are {t: title, v: row -> value, f: value ->
      text, name: true for the text column}; at most `limit` rows until
      "show all" is pressed. */
  function makeTable(table, cols, rows, sortCol, limit, info, filterBox) {
    var st = { col: sortCol, asc: false, all: false, filter: '' };
    function render() {
      table.textContent = '';
      var thead = el('thead'), tr = el('tr');
      cols.forEach(function (c, i) {
        var th = el('th', c.t, (c.name ? 'name' : '') + (i === st.col ? ' sorted' + (st.asc ? ' asc' : '') : ''));
        th.addEventListener('click', function () {
          if (st.col === i) st.asc = !st.asc; else { st.col = i; st.asc = !!c.name; }
          render();
        });
        tr.appendChild(th);
      });
      thead.appendChild(tr);
      table.appendChild(thead);
      var c = cols[st.col], list = rows;
      if (st.filter) list = rows.filter(function (r) { return filterBox.text(r).toLowerCase().indexOf(st.filter) >= 0; });
      list = list.slice().sort(function (a, b) {
        var x = c.v(a), y = c.v(b), o = x < y ? -1 : x > y ? 1 : 0;
        return st.asc ? o : -o;
      });
      var shown = st.all ? list.length : Math.min(limit, list.length), tb = el('tbody');
      for (var i = 0; i < shown; i++) {
        var row = el('tr');
        cols.forEach(function (col) {
          var td = el('td', null, col.name ? 'name' : '');
          col.f(col.v(list[i]), list[i], td);
          row.appendChild(td);
        });
        tb.appendChild(row);
      }
      table.appendChild(tb);
      if (info) info.textContent = shown + ' of ' + list.length + ' rows';
      if (shown < list.length) {
        var more = el('button', 'show all ' + list.length, 'more');
        more.addEventListener('click', function () { st.all = true; render(); });
        var r2 = el('tr'), td2 = el('td');
        td2.colSpan = cols.length;
        td2.appendChild(more);
        r2.appendChild(td2);
        tb.appendChild(r2);
      }
      table.setAttribute('data-rows', String(shown));
    }
    if (filterBox) {
      filterBox.input.addEventListener('input', function () {
        st.filter = filterBox.input.value.trim().toLowerCase();
        render();
      });
    }
    render();
  }
  function txt(v, r, td) { td.textContent = String(v); }
  function secs(v, r, td) { td.textContent = v.toFixed(3); }

  function drawTables() {
    var fcols = [
      { t: 'ncalls', v: function (r) { return r.ncalls; }, f: function (v, r, td) {
        td.textContent = r.ncalls === r.pcalls ? String(v) : r.ncalls + '/' + r.pcalls; } },
      { t: 'tottime', v: function (r) { return r.tottime_s; }, f: secs },
      { t: 'percall', v: function (r) { return r.ncalls ? r.tottime_s / r.ncalls : 0; }, f: secs },
      { t: 'cumtime', v: function (r) { return r.cumtime_s; }, f: secs },
      { t: 'percall', v: function (r) { return r.pcalls ? r.cumtime_s / r.pcalls : 0; }, f: secs },
      { t: 'procs', v: function (r) { return r.processes; }, f: txt },
      { t: 'function', name: true, v: function (r) { return r.name; }, f: function (v, r, td) {
        td.appendChild(document.createTextNode(r.file === '~' && r.line === 0 ? '{' + r.name + '}' : r.name + ' '));
        if (!(r.file === '~' && r.line === 0)) td.appendChild(el('small', r.file + ':' + r.line));
      } }
    ];
    if (R.functions.length >= M.functions_limit) {
      $('func-note').textContent = 'The ' + M.functions_limit + ' functions with the most ' +
        'cumulative time; mpprof report --json lists them all.';
    }
    makeTable($('func-table'), fcols, R.functions, 3, 300, $('func-info'),
              { input: $('func-filter'), text: function (r) { return r.name + ' ' + r.file; } });
    var pcols = [
      { t: 'pid', v: function (r) { return r.pid; }, f: txt },
      { t: 'ppid', v: function (r) { return r.ppid; }, f: txt },
      { t: 'name', name: true, v: function (r) { return r.name || ''; }, f: txt },
      { t: 'role', v: function (r) { return r.role; }, f: txt },
      { t: 'start', v: function (r) { return r.start_method || ''; }, f: txt },
      { t: 'wall s', v: function (r) { return r.wall_s; }, f: secs },
      { t: 'cpu s', v: function (r) { return r.cpu_s; }, f: secs },
      { t: 'calls', v: function (r) { return r.calls; }, f: txt },
      { t: 'threads', v: function (r) { return r.threads; }, f: txt },
      { t: 'exit', v: function (r) { return r.exit; }, f: txt }
    ];
    BAR_KEYS.forEach(function (k) {
      pcols.push({ t: CAT_TITLES[k] + ' s', v: function (r) { return r.categories[k + '_s'] || 0; }, f: secs });
    });
    makeTable($('proc-table'), pcols, R.processes, 5, 1000, null, null);
  }

  /* ---- start ---------------------------------------------------------- */

  /*  "#process=PID&colour=category&search=TEXT" in the address: the
      flame graph's filter, colour and search, set as a person would, with
      the events their controls send. */
  function fromHash() {
    var params = {};
    location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
      var i = kv.indexOf('=');
      if (i > 0) params[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1));
    });
    if (params.colour) {
      $('flame-colour').value = params.colour;
      $('flame-colour').dispatchEvent(new Event('change'));
    }
    if (params.search) {
      $('flame-search').value = params.search;
      $('flame-search').dispatchEvent(new Event('input'));
    }
    if (params.process) {
      var s = $('flame-proc');
      M.procs.forEach(function (p, i) {
        if (String(p.pid) === params.process || p.name === params.process) s.value = String(i);
      });
      /* The same event a click on the filter sends. */
      s.dispatchEvent(new Event('change'));
    }
  }

  try {
    drawHeader();
    if (D.compare) drawCompare();
    drawBars();
    prepTimeline();
    drawTimeline();
    initTimeline();
    initFlame();
    drawTables();
    fromHash();
    var resized = null;
    window.addEventListener('resize', function () {
      clearTimeout(resized);
      resized = setTimeout(function () { drawTimeline(); drawFlame(); }, 150);
    });
    body.setAttribute('data-render-ms', String(Math.round(performance.now())));
    body.setAttribute('data-render', 'done');
  } catch (e) {
    body.setAttribute('data-render', 'failed');
    noteError(e && e.stack ? e.stack : e);
  }
})();
