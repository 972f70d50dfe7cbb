"""Geometry checks of a rendered page, from the browser's own layout (not by eye).

``LABEL_CLASHES``: JavaScript that returns every pair of labels that overlap on screen - the
text of each Plotly figure (tick labels, axis and subplot titles, legend, colour bar; rotated
labels as rotated quadrilaterals, separating-axis test with 1 px slack) and the page's own
labels (navigation, headings, KPI values and labels, run facts, notes, sources).
"""

LABEL_CLASHES = """() => {
  // labels as screen-space quadrilaterals (rotated tick labels stay rotated), compared with the
  // separating-axis test: two labels overlap when no edge direction separates them (1 px slack)
  const quad = (e) => {
    if (e instanceof SVGGraphicsElement) {
      const b = e.getBBox(), m = e.getScreenCTM();
      if (!m || b.width === 0 || b.height === 0) return null;
      return [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]]
        .map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
    }
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return null;
    return [[r.left, r.top], [r.right, r.top], [r.right, r.bottom], [r.left, r.bottom]];
  };
  const separated = (p, q) => {
    for (const poly of [p, q]) for (let i = 0; i < 4; i++) {
      const [x1, y1] = poly[i], [x2, y2] = poly[(i + 1) % 4];
      const nx = y2 - y1, ny = x1 - x2, len = Math.hypot(nx, ny) || 1;
      const proj = (pts) => pts.map(([x, y]) => (x * nx + y * ny) / len);
      const a = proj(p), b = proj(q);
      if (Math.max(...a) <= Math.min(...b) + 1 || Math.max(...b) <= Math.min(...a) + 1) return true;
    }
    return false;
  };
  const labelled = (els) => els.filter(e => (e.textContent || '').trim()).map(e => [e, quad(e)]).filter(([, q]) => q);
  const clashes = (items, name) => {
    const out = [];
    for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) {
      const [a, p] = items[i], [b, q] = items[j];
      if (a.contains(b) || b.contains(a)) continue;
      if (!separated(p, q)) out.push(name + ': "' + a.textContent.trim().slice(0, 40) + '" x "' + b.textContent.trim().slice(0, 40) + '"');
    }
    return out;
  };
  let out = [];
  document.querySelectorAll('.js-plotly-plot').forEach(div => {
    out = out.concat(clashes(labelled(Array.from(div.querySelectorAll('svg text'))
      .filter(t => !t.closest('.heatmaplayer') && !t.closest('.hoverlayer') && !t.closest('.textpoint'))), div.id));
  });
  out = out.concat(clashes(labelled(Array.from(document.querySelectorAll(
    'header.top a, header.top .run, h1, h2, .kpi .v, .kpi .l, dl.facts dt, dl.facts dd, p.note, p.lead, .source'))), 'page'));
  return out;
}"""

OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
