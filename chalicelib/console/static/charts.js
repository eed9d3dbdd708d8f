// charts.js — time-series charts for the dashboards and the wallboard, drawn by uPlot (vendored from
// npm, see vendor/MANIFEST.json and `make vendor`; its stylesheet is linked on first use, CSP-safe).
//   <${TimeChart} points=${[{t: "2026-12-07T00:00:00Z", value: 3, by: {line: 1}}]} series=${[...]} />
// series: [{key: "value" | "by.<name>" | a function (point) → number, label, color}]. Time labels
// follow the console's language (Intl), so a chart reads the same in zh and en.
import { html, useEffect, useRef } from "./html.js";
import { lang } from "./i18n.js";
import uPlot from "./vendor/uplot.mjs";

export const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569", "#ea580c"];
let styled = null;

// uPlot's stylesheet, linked once; a chart is built after it applies (uPlot measures its layout).
function linkStyle() {
  if (!styled) {
    styled = new Promise((resolve) => {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = "console/static/vendor/uplot.css";
      link.onload = resolve;
      link.onerror = resolve;
      document.head.appendChild(link);
    });
  }
  return styled;
}

function valueOf(point, key) {
  if (typeof key === "function") return key(point);
  if (key.startsWith("by.")) {
    const v = (point.by || {})[key.slice(3)];
    return v === undefined ? 0 : v;
  }
  return point[key];
}

// The uPlot data table: [xs (unix seconds), ...one array per series].
export function table(points, series) {
  const xs = points.map((p) => Math.floor(Date.parse(p.t) / 1000));
  return [xs, ...series.map((s) => points.map((p) => {
    const v = valueOf(p, s.key);
    return v === null || v === undefined ? null : Number(v);
  }))];
}

function timeLabels(interval) {
  const fmt = interval === "day"
    ? new Intl.DateTimeFormat(lang(), { month: "numeric", day: "numeric" })
    : new Intl.DateTimeFormat(lang(), { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });
  return (u, splits) => splits.map((s) => (s === null ? "" : fmt.format(new Date(s * 1000))));
}

export function TimeChart({ points, series, interval = "day", height = 220, testid, unit, bars = false }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    let live = true;
    let resize = null;
    linkStyle().then(() => {
      if (live) resize = draw();
    });
    return () => {
      live = false;
      if (resize) resize.disconnect();
      if (plot.current) plot.current.destroy();
      plot.current = null;
    };
  }, [points, series.map((s) => s.label).join("|"), interval, height]);

  function draw() {
    const el = box.current;
    if (!el) return null;
    const width = Math.max(280, el.clientWidth || 600);
    const full = new Intl.DateTimeFormat(lang(), interval === "day"
      ? { year: "numeric", month: "short", day: "numeric" }
      : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    const opts = {
      width,
      height,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      series: [
        { value: (u, v) => (v === null ? "—" : full.format(new Date(v * 1000))) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color || PALETTE[i % PALETTE.length],
          fill: bars ? `${s.color || PALETTE[i % PALETTE.length]}99` : undefined,
          width: 2,
          paths: bars ? uPlot.paths.bars({ size: [0.7, 40] }) : undefined,
          points: { show: points.length < 40 },
          value: (u, v) => (v === null || v === undefined ? "—" : unit ? unit(v) : String(Math.round(v * 100) / 100)),
        })),
      ],
      axes: [
        { values: timeLabels(interval) },
        { values: (u, splits) => splits.map((v) => (unit ? unit(v) : String(v))), size: 56 },
      ],
    };
    plot.current = new uPlot(opts, table(points, series), el);
    const resize = new ResizeObserver(() => {
      const w = el.clientWidth;
      if (plot.current && w && Math.abs(w - plot.current.width) > 4) plot.current.setSize({ width: w, height });
    });
    resize.observe(el);
    return resize;
  }
  return html`<div class="chart" ref=${box} data-testid=${testid} data-points=${points.length}></div>`;
}
