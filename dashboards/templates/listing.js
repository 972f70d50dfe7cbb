/* pvmon case line listing: one row per case behind a signal's count a.
   Opened as listing.html#<key>[&subset=<label>]; loads cases/<key>.js (pvListing({...})) with a
   script tag, so it works from file:// with no server and no network. Plain JS: sort (click a
   header), filter (any text, per column, subset), CSV export of the rows shown (the first 500
   drawn, the rest on request: root's data-draw), and panels
   (outcomes vs the drug's other reports, time to onset, age/sex, quarter received, co-reported
   drugs) computed from the rows shown. Every text is set with textContent (never parsed as HTML). */
(function () {
  "use strict";
  var HIDDEN = { matching_pts: 1, co_reported: 1, subsets: 1 };
  var BOOL = { serious: 1, death: 1, life_threatening: 1, hospitalization: 1, disability: 1,
               congenital_anomaly: 1, required_intervention: 1, other_serious: 1 };
  var NUM = { caseid: 1, version: 1, primaryid: 1, age: 1, onset_days: 1 };
  var OUTCOMES = ["serious", "death", "life_threatening", "hospitalization", "disability",
                  "congenital_anomaly", "required_intervention", "other_serious"];
  var S = { data: null, subset: "", sort: null, desc: false, q: "", col: {}, all: false };
  var root = document.getElementById("listing");

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function idx(key) { return S.data.columns.findIndex(function (c) { return c[0] === key; }); }
  function show(key, v) {
    if (v === null || v === undefined || v === "") return BOOL[key] ? "\u2013" : (NUM[key] ? "\u2013" : "");
    if (BOOL[key]) return v ? "yes" : "no";
    if (Array.isArray(v)) return v.join("; ");
    return String(v);
  }
  function params() {
    var parts = window.location.hash.replace(/^#/, "").split("&"), out = { key: parts[0], subset: "" };
    parts.slice(1).forEach(function (p) {
      if (p.indexOf("subset=") === 0) out.subset = decodeURIComponent(p.slice(7));
    });
    return out;
  }
  function rows() {
    var d = S.data, sub = idx("subsets"), words = S.q.toLowerCase().split(/\s+/).filter(Boolean);
    var out = d.rows.filter(function (r) {
      if (S.subset && r[sub].indexOf(S.subset) < 0) return false;
      var text = r.map(function (v, i) { return show(d.columns[i][0], v); }).join(" ").toLowerCase();
      if (!words.every(function (w) { return text.indexOf(w) >= 0; })) return false;
      return Object.keys(S.col).every(function (k) {
        var f = S.col[k].toLowerCase();
        return !f || show(k, r[idx(k)]).toLowerCase().indexOf(f) >= 0;
      });
    });
    if (S.sort !== null) {
      var i = idx(S.sort), sign = S.desc ? -1 : 1;
      out = out.slice().sort(function (r1, r2) {
        var a = r1[i], b = r2[i];
        if (a === b) return 0;
        if (a === null || a === undefined) return 1;
        if (b === null || b === undefined) return -1;
        if (typeof a === "string") { a = a.toLowerCase(); b = String(b).toLowerCase(); }
        return (a < b ? -1 : 1) * sign;
      });
    }
    return out;
  }
  function csvCell(v) {
    var t = Array.isArray(v) ? v.join("; ") : (v === null || v === undefined ? "" : String(v));
    if (typeof v === "string" && /^[=+\-@\t\r]/.test(t)) t = "'" + t;  // never a formula in a spreadsheet
    return /[",\n\r]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
  }
  function csv(list) {
    var d = S.data, head = (d.simulated ? ["data"] : []).concat(d.columns.map(function (c) { return c[1]; }));
    var lines = [head.map(csvCell).join(",")];
    list.forEach(function (r) {
      lines.push((d.simulated ? [d.data === "SIMULATED" ? "SIMULATED" : d.data + " (may be SIMULATED)"] : [])
        .concat(r).map(csvCell).join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }
  function bars(title, id, items, note) {
    // items: [label, count, total] ; a small horizontal bar chart as a table (reads at 390 px)
    var box = el("div", { "class": "panel", id: id });
    box.appendChild(el("h3", {}, title));
    var t = el("table", { "class": "bars" });
    items.forEach(function (it) {
      var tr = el("tr", { "data-label": it[0] });
      tr.appendChild(el("th", {}, it[0]));
      var pct = it[2] ? 100 * it[1] / it[2] : 0;
      var cell = el("td", { "class": "bar" });
      var bar = el("span", { "class": "fill" + (it[3] ? " " + it[3] : "") });
      bar.style.width = Math.min(100, pct).toFixed(1) + "%";
      cell.appendChild(bar);
      tr.appendChild(cell);
      tr.appendChild(el("td", { "class": "n", "data-n": it[1] }, it[1] + (it[2] ? " (" + pct.toFixed(0) + "%)" : "")));
      t.appendChild(tr);
    });
    box.appendChild(t);
    if (note) box.appendChild(el("p", { "class": "note" }, note));
    return box;
  }
  function count(list, key, fn) {
    var i = idx(key), out = {};
    list.forEach(function (r) { (fn ? fn(r[i]) : [r[i]]).forEach(function (v) { out[v] = (out[v] || 0) + 1; }); });
    return out;
  }
  function panels(list) {
    var d = S.data, box = el("div", { "class": "panels", id: "panels" }), n = list.length, o = d.other;
    var items = [];
    OUTCOMES.forEach(function (k) {
      var i = idx(k), c = list.filter(function (r) { return r[i]; }).length;
      items.push([k.replace(/_/g, " ") + ": this event", c, n, "ev"]);
      items.push([k.replace(/_/g, " ") + ": drug's other reports", o[k], o.n, "other"]);
    });
    box.appendChild(bars("Outcomes: the drug-event cases vs the drug's other reports", "panel-outcomes", items,
      "Other reports: the drug's reports without this event (b = " + o.n + "), all subsets."));
    var onset = [["0 (same day)", 0, 0], ["1-7 days", 1, 7], ["8-30 days", 8, 30], ["31-90 days", 31, 90],
                 ["91-365 days", 91, 365], [">365 days", 366, 1e12]];
    var oi = idx("onset_days");
    var items2 = onset.map(function (b) {
      return [b[0], list.filter(function (r) { return r[oi] !== null && r[oi] >= b[1] && r[oi] <= b[2]; }).length, n];
    });
    items2.push(["unknown", list.filter(function (r) { return r[oi] === null; }).length, n]);
    box.appendChild(bars("Time to onset (drug start to event)", "panel-onset", items2));
    var ai = idx("age"), ages = [["<18", 0, 18], ["18-44", 18, 45], ["45-64", 45, 65], ["65-74", 65, 75], [">=75", 75, 1e9]];
    var items3 = ages.map(function (b) {
      return ["age " + b[0], list.filter(function (r) { return r[ai] !== null && r[ai] >= b[1] && r[ai] < b[2]; }).length, n];
    });
    items3.push(["age unknown", list.filter(function (r) { return r[ai] === null; }).length, n]);
    var sex = count(list, "sex");
    Object.keys(sex).sort().forEach(function (s) { items3.push(["sex " + (s === "null" ? "unknown" : s), sex[s], n]); });
    box.appendChild(bars("Age and sex", "panel-age-sex", items3));
    var q = count(list, "quarter");
    box.appendChild(bars("Reports by quarter received", "panel-quarter",
      Object.keys(q).sort().map(function (k) { return [k, q[k], n]; })));
    var co = count(list, "co_reported", function (v) { return v ? v.split("; ") : []; });
    var top = Object.keys(co).sort(function (a, b) { return co[b] - co[a] || (a < b ? -1 : 1); }).slice(0, 10);
    box.appendChild(bars("Top co-reported drugs (any role)", "panel-co", top.map(function (k) { return [k, co[k], n]; })));
    return box;
  }
  function limit() {  // rows drawn at once (the page's data-draw, default 500): a big listing stays quick
    return S.all ? Infinity : (parseInt(root.getAttribute("data-draw"), 10) || 500);
  }
  function draw() {
    var d = S.data, list = rows(), drawn = list.slice(0, limit());
    document.getElementById("listing-count").textContent = list.length + " of " + d.rows.length + " cases shown" +
      (drawn.length < list.length ? "; the first " + drawn.length + " drawn (the CSV and panels have all)" : "");
    var more = document.getElementById("listing-more");
    more.style.display = drawn.length < list.length ? "" : "none";
    more.textContent = "Draw all " + list.length + " rows";
    var body = document.getElementById("listing-body");
    body.textContent = "";
    var mi = idx("matching_pts");
    drawn.forEach(function (r) {
      var tr = el("tr", { "data-caseid": r[0] });
      d.columns.forEach(function (c, i) {
        if (HIDDEN[c[0]]) return;
        var td = el("td", { "data-col": c[0], "class": NUM[c[0]] ? "k-int" : (BOOL[c[0]] ? "k-bool" + (r[i] ? " yes" : "") : "") });
        if (c[0] === "pts") {
          var hits = (r[mi] || "").split("; ");
          (r[i] || "").split("; ").forEach(function (pt, j) {
            if (j) td.appendChild(document.createTextNode("; "));
            td.appendChild(hits.indexOf(pt) >= 0 ? el("mark", {}, pt) : document.createTextNode(pt));
          });
        } else {
          td.textContent = show(c[0], r[i]);
        }
        if (c[0] === "caseid" || c[0] === "event") td.className += " sticky";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    var old = document.getElementById("panels");
    old.parentNode.replaceChild(panels(list), old);
  }
  function build() {
    var d = S.data, p = params();
    S.all = false;
    root.textContent = "";
    var subsetA = S.subset ? d.subset_a[S.subset] : d.a;
    root.appendChild(el("h2", { id: "listing-title" }, d.drug + " \u2013 " + d.event + " (" + d.level + ")" +
      (S.subset ? ", subset " + S.subset : ", all reports")));
    root.appendChild(el("p", { "class": "note", id: "listing-a" }, "a = " + subsetA + " in the signal table of run " +
      d.run_id + "; signal rule: " + d.rule + ". Matching PTs are highlighted." +
      (d.simulated ? " SIMULATED DATA (" + d.data + ")." : "")));
    var bar = el("div", { "class": "filter" });
    var q = el("input", { type: "search", id: "listing-filter", placeholder: "Filter cases (any text)" });
    q.addEventListener("input", function () { S.q = q.value; draw(); });
    bar.appendChild(q);
    var sel = el("select", { id: "listing-subset", "aria-label": "subset" });
    sel.appendChild(el("option", { value: "" }, "all reports (" + d.a + ")"));
    Object.keys(d.subset_a).sort().forEach(function (s) {
      var o = el("option", { value: s }, s + " (" + d.subset_a[s] + ")");
      if (s === S.subset) o.setAttribute("selected", "selected");
      sel.appendChild(o);
    });
    sel.addEventListener("change", function () {
      S.subset = sel.value;
      window.location.hash = p.key + (S.subset ? "&subset=" + encodeURIComponent(S.subset) : "");
    });
    bar.appendChild(sel);
    var name = (d.drug + "-" + d.level + "-" + d.event + (S.subset ? "-" + S.subset : "")).replace(/[^A-Za-z0-9]+/g, "_");
    var link = el("a", { id: "listing-csv", href: "#", download: "cases_" + name.slice(0, 80) + ".csv", "class": "button" },
      "Export CSV (rows shown)");
    link.addEventListener("click", function () {  // made when asked: a big listing's CSV is megabytes
      if (link.getAttribute("href").indexOf("blob:") === 0) URL.revokeObjectURL(link.getAttribute("href"));
      link.setAttribute("href", URL.createObjectURL(new Blob([csv(rows())], { type: "text/csv;charset=utf-8" })));
    });
    bar.appendChild(link);
    bar.appendChild(el("span", { "class": "count", id: "listing-count" }));
    var more = el("button", { type: "button", "class": "more", id: "listing-more" });
    more.addEventListener("click", function () { S.all = true; draw(); });
    bar.appendChild(more);
    root.appendChild(bar);
    var wrap = el("div", { "class": "tablewrap" });
    var t = el("table", { "class": "data", id: "listing-table" });
    var head = el("thead"), hr = el("tr", { "class": "cols" }), fr = el("tr", { "class": "colfilters" });
    d.columns.forEach(function (c) {
      if (HIDDEN[c[0]]) return;
      var th = el("th", { "data-col": c[0], "class": (NUM[c[0]] ? "k-int" : "") + (c[0] === "caseid" ? " sticky" : "") }, c[1]);
      th.addEventListener("click", function () {
        S.desc = S.sort === c[0] ? !S.desc : false;
        S.sort = c[0];
        head.querySelectorAll("th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(S.desc ? "sorted-desc" : "sorted-asc");
        draw();
      });
      hr.appendChild(th);
      var fth = el("th", { "class": c[0] === "caseid" ? "sticky" : "" });
      var fi = el("input", { type: "search", "data-col": c[0], "aria-label": "filter " + c[1] });
      fi.addEventListener("input", function () { S.col[c[0]] = fi.value; draw(); });
      fth.appendChild(fi);
      fr.appendChild(fth);
    });
    head.appendChild(hr);
    head.appendChild(fr);
    t.appendChild(head);
    t.appendChild(el("tbody", { id: "listing-body" }));
    wrap.appendChild(t);
    root.appendChild(wrap);
    root.appendChild(el("div", { id: "panels" }));
    draw();
    root.setAttribute("data-ready", "1");
  }
  window.pvListing = function (data) { S.data = data; build(); };
  function load() {
    var p = params();
    if (!/^[0-9a-f]{16}$/.test(p.key)) {
      root.textContent = "No signal chosen: open a listing from a 'case listing' link of a drug page.";
      return;
    }
    S.subset = p.subset;
    if (S.data) { build(); return; }
    var s = document.createElement("script");
    s.src = "cases/" + p.key + ".js";
    s.onerror = function () { root.textContent = "No case listing " + p.key + " in this site."; };
    document.body.appendChild(s);
  }
  window.addEventListener("hashchange", function () { S.data = null; root.removeAttribute("data-ready"); load(); });
  load();
})();
