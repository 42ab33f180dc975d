/* report.html's page code, part 4 of 4: the verdict, the time bars,
   the comparison of two runs, the tables, and the start.  See util.js.

   What it drew is written into the DOM as data attributes, so that a
   headless browser's --dump-dom can check the page (tests/integration/
   test_html.py): data-render, data-errors, data-csp-violations on <body>,
   data-lanes/data-pids/data-rows/data-view on the timeline,
   data-total-us/data-names/data-process/data-zoom/data-matched-us on the
   flame graph.  "#process=PID" in the address
   selects that process in the flame graph's filter, as a click would
   (see fromHash). */
/* ---- header, verdict and where the time went ------------------------ */

function drawHeader() {
  var cmd = (R.command || []).join(' ');
  $('run-info').textContent = cmd + ' \u2014 ' + fmtSecs(R.wall_s) + ' wall, ' +
    plural(R.processes.length, 'process') + ', Python ' + (R.python || '?') +
    ', exit status ' + R.exit_status + ', mpprof ' + R.mpprof_version;
  document.title = 'mpprof: ' + cmd;
  var v = R.verdict || {}, p = $('verdict');
  p.appendChild(document.createTextNode('Leading cost: '));
  p.appendChild(el('b', v.leading === 'serialisation' ? 'moving data'
                        : CAT_TITLES[v.leading] || v.leading));
  var parts = '', m = R.moving_data || {};
  if (v.leading === 'serialisation') {
    /* The parts that had time, as the text report lists them. */
    parts = [['pickling', m.pickle_s], ['unpickling', m.unpickle_s],
             ['pipe transfers', m.transfer_s], ['queued behind them', m.queued_s]]
      .filter(function (x) { return x[1] > 0; })
      .map(function (x) { return x[0] + ' ' + fmtSecs(x[1]); }).join(', ');
  }
  p.appendChild(document.createTextNode(', ' + fmtSecs(v.seconds || 0) + ' (' +
    pct(v.share || 0, 1) + ' of thread time' +
    (v.parallel ? '' : ', one process') + (parts ? '; ' + parts : '') + ').' +
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


/* ---- the tables ----------------------------------------------------- */

/*  A sortable table: cols are {t: title, v: row -> value, f: value ->
    text, name: true for the text column}; at most `limit` rows until
    "show all" is pressed. */
function makeTable(table, cols, rows, sortCol, limit, info, filterBox, asc) {
  var st = { col: sortCol, asc: !!asc, all: false, filter: '' };
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
    if (table.hasAttribute('data-row-hosts')) {
      table.setAttribute('data-row-hosts', JSON.stringify(list.slice(0, shown).map(function (r) { return r.host; })));
    }
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
  /* Across hosts the table opens grouped by host (a stable sort keeps
     each host's processes in their order), with the host and rank. */
  if (hostsOf(R.processes).length) {
    pcols.unshift({ t: 'rank', v: function (r) { return r.rank === null ? -1 : r.rank; },
                    f: function (v, r, td) { td.textContent = r.rank === null ? '' : String(r.rank); } });
    pcols.unshift({ t: 'host', name: true, v: function (r) { return r.host || ''; }, f: txt });
    $('proc-table').setAttribute('data-row-hosts', '[]');
    makeTable($('proc-table'), pcols, R.processes, 0, 1000, null, null, true);
  } else {
    makeTable($('proc-table'), pcols, R.processes, 5, 1000, null, null);
  }
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
  phase('bars');
  prepTimeline();
  drawTimeline();
  initTimeline();
  phase('timeline');
  initFlame();
  phase('flame');
  drawTables();
  phase('tables');
  fromHash();
  var resized = null;
  window.addEventListener('resize', function () {
    clearTimeout(resized);
    resized = setTimeout(function () { drawTimeline(); drawFlame(); }, 150);
  });
  phase('done');
  body.setAttribute('data-render-ms', String(Math.round(performance.now())));
  body.setAttribute('data-phases', phases.map(function (p) {
    return p[0] + ' ' + Math.round(p[1]);
  }).join(', '));
  body.setAttribute('data-render', 'done');
} catch (e) {
  body.setAttribute('data-render', 'failed');
  noteError(e && e.stack ? e.stack : e);
}
