/* report.html's page code, part 2 of 4: the timeline, one lane per
   process (and per thread when expanded) with the category spans, zoomed
   by the wheel and panned by dragging.  See util.js. */
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
  /* A session across hosts: the lanes host by host, each host under a
     row naming it, in the order its first process comes. */
  TL.hosts = hostsOf(M.procs);
  if (TL.hosts.length) {
    var rank = {};
    TL.hosts.forEach(function (h, k) { rank[h] = k; });
    var key = function (pr) { return pr.p.host === null ? TL.hosts.length : rank[pr.p.host]; };
    TL.procs.sort(function (a, b) { return key(a) - key(b) || a.i - b.i; });
  }
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
  var LABEL = 200, AXIS = 22, LANE = 20, THREAD = 14, HOST = 18;
  var lanes = [], y = AXIS, host;
  TL.procs.forEach(function (pr) {
    if (TL.hosts.length && (host === undefined || pr.p.host !== host)) {
      host = pr.p.host;
      var n = TL.procs.filter(function (q) { return q.p.host === host; }).length;
      lanes.push({ host: host === null ? 'this host' : host, n: n, spans: [], y: y, h: HOST });
      y += HOST;
    }
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
  var drawnPids = [], drawnHosts = [];
  lanes.forEach(function (ln, li) {
    if (ln.host !== undefined) {
      /* A host's row: its name across the whole width. */
      ctx.fillStyle = '#e8edf3';
      ctx.fillRect(0, ln.y, g.w, ln.h);
      ctx.fillStyle = '#1d232a';
      ctx.font = 'bold ' + ctx.font.replace(/^bold /, '');
      ctx.fillText('host ' + ln.host + ' \u2014 ' + ln.n + ' process' + (ln.n === 1 ? '' : 'es'), 4, ln.y + ln.h / 2);
      ctx.font = ctx.font.replace(/^bold /, '');
      drawnHosts.push(ln.host);
      return;
    }
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
     started down (or up) to the child's lane.  With many children the
     lines would cross every lane between, so only their ends are drawn
     then: a tick on the parent's lane, a mark on the child's (hovering a
     lane names its parent). */
  ctx.save();
  ctx.beginPath();
  ctx.rect(LABEL, AXIS, plotW, g.h - AXIS);
  ctx.clip();
  ctx.strokeStyle = 'rgba(60, 70, 80, .55)';
  ctx.fillStyle = 'rgba(60, 70, 80, .8)';
  var laneOf = {}, links = [];
  lanes.forEach(function (ln) { if (ln.main) laneOf[ln.pr.i] = ln; });
  TL.procs.forEach(function (pr) {
    var par = pr.p.parent;
    if (par >= 0 && laneOf[par]) links.push([laneOf[par], laneOf[pr.i], X(pr.p.start_us)]);
  });
  var full = links.length <= 12;
  links.forEach(function (lk) {
    var from = lk[0], to = lk[1], x = lk[2];
    var y0 = from.y + from.h / 2, y1 = to.y + (to.y > from.y ? 3 : to.h - 3);
    ctx.beginPath();
    if (full) {
      ctx.moveTo(x, y0);
      ctx.lineTo(x, y1);
    } else {
      ctx.moveTo(x, from.y + 2);
      ctx.lineTo(x, from.y + from.h - 2);
    }
    ctx.stroke();
    ctx.fillRect(x - 2, y1 - 2, 4, 4);
  });
  TL.c.setAttribute('data-links', String(links.length));
  ctx.restore();
  TL.c.setAttribute('data-lanes', String(drawnPids.length));
  TL.c.setAttribute('data-pids', drawnPids.join(' '));
  TL.c.setAttribute('data-hosts', JSON.stringify(drawnHosts));
  TL.c.setAttribute('data-rows', String(lanes.length));
  TL.c.setAttribute('data-view', Math.round(v0) + ' ' + Math.round(v1));
}

function tlTime(ev) {
  var r = TL.c.getBoundingClientRect();
  return { x: ev.clientX - r.left, y: ev.clientY - r.top,
           t: TL.v0 + (ev.clientX - r.left - TL.geo.LABEL) / TL.geo.plotW * (TL.v1 - TL.v0) };
}
/*  Redraws once per frame however many events ask.  A browser that draws
    no frames (a background tab, a headless one) runs no frame callbacks,
    so a timer does it there. */
var tlPending = false;
function tlRedraw() {
  if (tlPending) return;
  tlPending = true;
  var draw = function () {
    if (!tlPending) return;
    tlPending = false;
    drawTimeline();
  };
  requestAnimationFrame(draw);
  setTimeout(draw, 50);
}
/*  Where a span's function was called from in its process: its callers
    by the time of their calls (the process's edges), at most two. */
function callSites(p, f) {
  var e = p.edges, list = [];
  for (var k = 0; k + 2 < e.length; k += 3) {
    if (e[k + 1] === f && e[k] !== f) list.push([e[k], e[k + 2]]);
  }
  list.sort(function (a, b) { return b[1] - a[1]; });
  return list.slice(0, 2).map(function (c) {
    var fn = FUNCS[c[0]];
    return 'called from ' + pstatsKey(fn[0], fn[1], fn[2]) + ' (' + fmtUs(c[1]) + ' in all)';
  });
}

function tlHover(ev) {
  var m = tlTime(ev), ln = null;
  TL.lanes.forEach(function (l) { if (m.y >= l.y && m.y < l.y + l.h) ln = l; });
  if (ln && ln.host !== undefined) {
    showTip(ev, 'host ' + ln.host + ', ' + ln.n + ' process' + (ln.n === 1 ? '' : 'es'));
    return;
  }
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
      '\n' + (best.f >= 0 ? [pstatsKey(FUNCS[best.f][0], FUNCS[best.f][1], FUNCS[best.f][2])]
        .concat(callSites(p, best.f)).join('\n') : 'function unknown') +
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
