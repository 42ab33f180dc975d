/* report.html's page code, part 1 of 4: what the other parts share.
   The page is plain JS, no library, no request.  The template
   (report.html) puts the four parts, in the order util, timeline, flame,
   report, into one function in one script element, so that they share
   these names and nothing reaches the page's global scope.  The profile
   comes from the #mpprof-data element (see src/output/mpp_html.c).
   Names come from the profiled program, so they reach the page only
   through textContent and canvas text, never as markup. */
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

/* When each step of the first render ended (ms since the page began
   loading), written to <body data-phases>: where the time goes on a big
   page. */
var phases = [['script', performance.now()]];
function phase(name) { phases.push([name, performance.now()]); }
var D = JSON.parse($('mpprof-data').textContent);
phase('parse');
var R = D.report, M = D.model;
var FUNCS = M.funcs;
function funcLabel(f) {
  var fn = FUNCS[f];
  return fn ? shortLabel(fn[0], fn[1], fn[2]) : '?';
}
function procLabel(i) {
  var p = M.procs[i];
  return (p.name || 'process') + ' (' + p.pid + (p.rank !== null && p.rank !== undefined ? ', rank ' + p.rank : '') + ')';
}
/*  The hosts of a session across hosts, in the order their first
    processes come; [] on one host (no process names one). */
function hostsOf(procs) {
  var seen = {}, list = [];
  procs.forEach(function (p) {
    if (p.host !== null && p.host !== undefined && !seen[p.host]) { seen[p.host] = true; list.push(p.host); }
  });
  return list;
}
