/* pvmon case line listing: one row per case behind a signal's count a, one page at a time.
   Opened as listing.html#<key>[&subset=<label>][&page=<n>]; loads cases/<key>.js (pvListing({...}):
   counts, page sizes, which pages hold each subset's cases, panels over all the cases) and then the
   page's rows, cases/<key>-<page>.js (pvListingPage(key, page, rows)), with script tags, so it works
   from file:// with no server and no network (rule listing-pages in dashboards/case_lists.py: a
   listing of 100,000 cases never loads as one file). Plain JS: previous/next/jump, sort and filter
   (within the page shown), CSV export of the page's rows shown or of every case of the listing (its
   pages loaded on request), panels (outcomes vs the drug's other reports, time to onset, age/sex,
   quarter received, co-reported drugs) over all the listing's (or subset's) cases. Every text is set
   with textContent (never parsed as HTML). */
(function () {
  "use strict";
  var HIDDEN = { matching_pts: 1, co_reported: 1, subsets: 1 };
  var BOOL = { serious: 1, death: 1, life_threatening: 1, hospitalization: 1, disability: 1,
               congenital_anomaly: 1, required_intervention: 1, other_serious: 1 };
  var NUM = { caseid: 1, version: 1, primaryid: 1, age: 1, onset_days: 1 };
  var OUTCOMES = ["serious", "death", "life_threatening", "hospitalization", "disability",
                  "congenital_anomaly", "required_intervention", "other_serious"];
  var ONSET = ["0 (same day)", "1-7 days", "8-30 days", "31-90 days", "91-365 days", ">365 days", "unknown"];
  var AGES = ["age <18", "age 18-44", "age 45-64", "age 65-74", "age >=75", "age unknown"];
  var S = { key: null, meta: null, pages: {}, subset: "", page: 1, sort: null, desc: false, q: "", col: {} };
  var root = document.getElementById("listing");

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function num(n) { return Number(n).toLocaleString("en-US"); }
  function idx(key) { return S.meta.columns.findIndex(function (c) { return c[0] === key; }); }
  function show(key, v) {
    if (v === null || v === undefined || v === "") return BOOL[key] ? "\u2013" : (NUM[key] ? "\u2013" : "");
    if (BOOL[key]) return v ? "yes" : "no";
    if (Array.isArray(v)) return v.join("; ");
    return String(v);
  }
  function params() {
    var parts = window.location.hash.replace(/^#/, "").split("&"), out = { key: parts[0], subset: "", page: 1 };
    parts.slice(1).forEach(function (p) {
      if (p.indexOf("subset=") === 0) out.subset = decodeURIComponent(p.slice(7));
      if (p.indexOf("page=") === 0) out.page = parseInt(p.slice(5), 10) || 1;
    });
    return out;
  }
  function go(subset, page) {
    window.location.hash = S.key + (subset ? "&subset=" + encodeURIComponent(subset) : "") + (page > 1 ? "&page=" + page : "");
  }
  // [[file page, cases of the chosen subset in it], ...]: the pages the reader steps through
  function plan() {
    var m = S.meta;
    return S.subset ? (m.subset_pages[S.subset] || []) : m.pages.map(function (n, i) { return [i, n]; });
  }
  function total() { return plan().reduce(function (t, p) { return t + p[1]; }, 0); }
  function fetchPage(k, then) {
    if (S.pages[k]) { then(); return; }
    var s = document.createElement("script"), key = S.key;
    s.src = "cases/" + key + "-" + k + ".js";
    s.onload = function () { if (key === S.key) then(); };
    s.onerror = function () { root.textContent = "Page " + (k + 1) + " of case listing " + key + " is missing from this site."; };
    document.body.appendChild(s);
  }
  window.pvListingPage = function (key, k, rows) { if (key === S.key) S.pages[k] = rows; };
  function inSubset(r) { return !S.subset || r[idx("subsets")].indexOf(S.subset) >= 0; }
  function pageCases() { var p = plan()[S.page - 1]; return p ? S.pages[p[0]].filter(inSubset) : []; }
  function rows() {
    var d = S.meta, words = S.q.toLowerCase().split(/\s+/).filter(Boolean);
    var out = pageCases().filter(function (r) {
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
    var d = S.meta, head = (d.simulated ? ["data"] : []).concat(d.columns.map(function (c) { return c[1]; }));
    var lines = [head.map(csvCell).join(",")];
    list.forEach(function (r) {
      lines.push((d.simulated ? [d.data === "SIMULATED" ? "SIMULATED" : d.data + " (may be SIMULATED)"] : [])
        .concat(r).map(csvCell).join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }
  function save(link, text) {
    if (link.getAttribute("href").indexOf("blob:") === 0) URL.revokeObjectURL(link.getAttribute("href"));
    link.setAttribute("href", URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" })));
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
  function counts(items) { var out = {}; (items || []).forEach(function (it) { out[it.l] = it.n; }); return out; }
  function panels() {  // written at publish over every case of the listing (or subset): not only this page
    var d = S.meta, p = d.panels[S.subset] || {}, n = total(), o = d.other;
    var wrap = el("div", { id: "panels" }), box = el("div", { "class": "panels" });
    wrap.appendChild(el("p", { "class": "note", id: "panels-note" }, "Panels: all " + num(n) + " cases of the listing" +
      (S.subset ? " in subset " + S.subset : "") + ", not only the page shown."));
    wrap.appendChild(box);
    var out = counts(p.outcomes), items = [];
    OUTCOMES.forEach(function (k) {
      items.push([k.replace(/_/g, " ") + ": this event", out[k] || 0, n, "ev"]);
      items.push([k.replace(/_/g, " ") + ": drug's other reports", o[k], o.n, "other"]);
    });
    box.appendChild(bars("Outcomes: the drug-event cases vs the drug's other reports", "panel-outcomes", items,
      "Other reports: the drug's reports without this event (b = " + o.n + "), all subsets."));
    var onset = counts(p.onset), ages = counts(p.age), sex = counts(p.sex), q = counts(p.quarter);
    box.appendChild(bars("Time to onset (drug start to event)", "panel-onset",
      ONSET.map(function (b) { return [b, onset[b] || 0, n]; })));
    box.appendChild(bars("Age and sex", "panel-age-sex", AGES.map(function (b) { return [b, ages[b] || 0, n]; })
      .concat(Object.keys(sex).sort().map(function (s) { return [s, sex[s], n]; }))));
    box.appendChild(bars("Reports by quarter received", "panel-quarter",
      Object.keys(q).sort().map(function (k) { return [k, q[k], n]; })));
    box.appendChild(bars(S.subset ? "The listing's top co-reported drugs (any role), in this subset" :
      "Top co-reported drugs (any role)", "panel-co",
      (p.co || []).map(function (it) { return [it.l, it.n, n]; })));
    return wrap;
  }
  function draw() {
    var d = S.meta, list = rows(), here = pageCases(), pages = plan().length, before = 0;
    plan().slice(0, S.page - 1).forEach(function (p) { before += p[1]; });
    document.getElementById("listing-range").textContent = "Page " + num(S.page) + " of " + num(pages) + ": cases " +
      num(here.length ? before + 1 : 0) + "\u2013" + num(before + here.length) + " of " + num(total());
    document.getElementById("listing-count").textContent = list.length + " of " + here.length + " cases of this page shown";
    document.getElementById("listing-prev").disabled = S.page <= 1;
    document.getElementById("listing-next").disabled = S.page >= pages;
    var jump = document.getElementById("listing-jump");
    jump.value = S.page;
    jump.setAttribute("max", pages);
    var body = document.getElementById("listing-body");
    body.textContent = "";
    var mi = idx("matching_pts");
    list.forEach(function (r) {
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
    root.setAttribute("data-ready", "1");
  }
  function pager() {
    var bar = el("div", { "class": "filter pager" });
    var prev = el("button", { type: "button", "class": "more", id: "listing-prev" }, "\u2039 Previous");
    prev.addEventListener("click", function () { go(S.subset, S.page - 1); });
    var next = el("button", { type: "button", "class": "more", id: "listing-next" }, "Next \u203a");
    next.addEventListener("click", function () { go(S.subset, S.page + 1); });
    var label = el("label", {}, "Go to page ");
    var jump = el("input", { type: "number", id: "listing-jump", min: 1, "aria-label": "page", style: "width:6em" });
    jump.addEventListener("change", function () {
      var k = Math.max(1, Math.min(plan().length, parseInt(jump.value, 10) || 1));
      if (k !== S.page) go(S.subset, k); else jump.value = k;
    });
    label.appendChild(jump);
    [prev, el("span", { "class": "count", id: "listing-range" }), next, label].forEach(function (e) { bar.appendChild(e); });
    return bar;
  }
  function build() {
    var d = S.meta;
    root.textContent = "";
    S.q = "";
    S.col = {};
    S.sort = null;
    S.desc = false;
    var subsetA = S.subset ? d.subset_a[S.subset] : d.a;
    root.appendChild(el("h2", { id: "listing-title" }, d.drug + " \u2013 " + d.event + " (" + d.level + ")" +
      (S.subset ? ", subset " + S.subset : ", all reports")));
    root.appendChild(el("p", { "class": "note", id: "listing-a" }, "a = " + subsetA + " in the signal table of run " +
      d.run_id + "; signal rule: " + d.rule + ". " + num(total()) + " cases listed, " + num(plan().length) +
      " page(s); sorting and filters apply to the page shown. Matching PTs are highlighted." +
      (d.simulated ? " SIMULATED DATA (" + d.data + ")." : "")));
    var bar = el("div", { "class": "filter" });
    var q = el("input", { type: "search", id: "listing-filter", placeholder: "Filter this page (any text)" });
    q.addEventListener("input", function () { S.q = q.value; draw(); });
    bar.appendChild(q);
    var sel = el("select", { id: "listing-subset", "aria-label": "subset" });
    sel.appendChild(el("option", { value: "" }, "all reports (" + d.a + ")"));
    Object.keys(d.subset_a).sort().forEach(function (s) {
      var o = el("option", { value: s }, s + " (" + d.subset_a[s] + ")");
      if (s === S.subset) o.setAttribute("selected", "selected");
      sel.appendChild(o);
    });
    sel.addEventListener("change", function () { go(sel.value, 1); });
    bar.appendChild(sel);
    var name = (d.drug + "-" + d.level + "-" + d.event + (S.subset ? "-" + S.subset : "")).replace(/[^A-Za-z0-9]+/g, "_");
    var link = el("a", { id: "listing-csv", href: "#", download: "cases_" + name.slice(0, 70) + "_page.csv", "class": "button" },
      "CSV: this page's rows shown");
    link.addEventListener("click", function () { save(link, csv(rows())); });  // made when asked
    bar.appendChild(link);
    var every = el("a", { id: "listing-csv-all", href: "#", download: "cases_" + name.slice(0, 70) + ".csv", "class": "button" },
      "CSV: all " + num(total()) + " cases");
    every.addEventListener("click", function (e) {  // loads every page of the listing, then saves
      if (every.getAttribute("data-ready")) { every.removeAttribute("data-ready"); return; }
      e.preventDefault();
      var todo = plan().map(function (p) { return p[0]; });
      every.textContent = "Loading " + todo.length + " page(s)\u2026";
      (function next(i) {
        if (i < todo.length) { fetchPage(todo[i], function () { next(i + 1); }); return; }
        var all = [];
        todo.forEach(function (k) { all = all.concat(S.pages[k].filter(inSubset)); });
        save(every, csv(all));
        every.textContent = "CSV: all " + num(total()) + " cases";
        every.setAttribute("data-ready", "1");
        every.click();
      })(0);
    });
    bar.appendChild(every);
    bar.appendChild(el("span", { "class": "count", id: "listing-count" }));
    root.appendChild(bar);
    root.appendChild(pager());
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
    root.appendChild(panels());
  }
  function show_page(rebuild) {
    var pages = plan().length;
    S.page = Math.max(1, Math.min(pages, S.page));
    if (rebuild) build();
    if (!pages) { draw(); return; }
    fetchPage(plan()[S.page - 1][0], draw);
  }
  window.pvListing = function (data) { S.meta = data; show_page(true); };
  function load() {
    var p = params();
    root.removeAttribute("data-ready");
    if (!/^[0-9a-f]{16}$/.test(p.key)) {
      root.textContent = "No signal chosen: open a listing from a 'case listing' link of a drug page.";
      return;
    }
    var rebuild = p.key !== S.key || p.subset !== S.subset;
    S.page = p.page;
    S.subset = p.subset;
    if (p.key === S.key && S.meta) { show_page(rebuild); return; }
    S.key = p.key;
    S.meta = null;
    S.pages = {};
    var s = document.createElement("script");
    s.src = "cases/" + p.key + ".js";
    s.onerror = function () { root.textContent = "No case listing " + p.key + " in this site."; };
    document.body.appendChild(s);
  }
  window.addEventListener("hashchange", load);
  load();
})();
