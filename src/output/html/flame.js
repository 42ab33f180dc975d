/* report.html's page code, part 3 of 4: the flame graph (an icicle) of
   the merged call tree, with the process filter, the search box and the
   two colour modes.  See util.js. */
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
  s = String(s);
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
  c.setAttribute('data-zoom', nodeLabel(top));
  c.setAttribute('data-matched-us', String(Math.round(matched)));
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
