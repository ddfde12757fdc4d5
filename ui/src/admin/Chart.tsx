import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export type Point = { day: string; value: number };

/** A theme colour from the stylesheet's custom properties. */
function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** `#rrggbb` with an alpha, for canvas fills (which take no `color-mix`). */
export function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  const [r, g, b] = [m[1], m[2], m[3]].map((h) => parseInt(h as string, 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

const DAY_LABEL = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });

/**
 * A 30-day chart (uPlot: small, fast, canvas): bars or a filled line, drawn in the page's theme
 * colours and redrawn when the theme or the width changes. The numbers are also in a table for
 * screen readers.
 */
export function DayChart({ title, points, kind, unit }: { title: string; points: Point[]; kind: "bars" | "line"; unit: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let plot: uPlot | null = null;
    const draw = () => {
      plot?.destroy();
      const accent = cssVar("--accent");
      const muted = cssVar("--muted");
      const grid = cssVar("--border");
      const xs = points.map((p) => Date.parse(`${p.day}T00:00:00Z`) / 1000);
      const ys = points.map((p) => p.value);
      const series: uPlot.Series =
        kind === "bars"
          ? { label: unit, stroke: accent, fill: withAlpha(accent, 0.8), paths: uPlot.paths.bars!({ size: [0.7, 28], gap: 2 }), points: { show: false } }
          : { label: unit, stroke: accent, width: 2, fill: withAlpha(accent, 0.16), points: { size: 5, fill: accent } };
      const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: "12px system-ui, sans-serif" };
      plot = new uPlot(
        {
          width: Math.max(200, el.clientWidth),
          height: 200,
          legend: { show: false },
          cursor: { points: { show: kind === "line" }, y: false },
          scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
          axes: [
            { ...axis, values: (_u, splits) => splits.map((s) => DAY_LABEL.format(new Date(s * 1000))) },
            { ...axis, size: 44, values: (_u, splits) => splits.map((s) => (Number.isInteger(s) ? s.toLocaleString() : "")) },
          ],
          series: [{}, series],
        },
        [xs, ys],
        el,
      );
    };
    draw();
    const resize = new ResizeObserver(() => plot?.setSize({ width: Math.max(200, el.clientWidth), height: 200 }));
    resize.observe(el);
    const scheme = window.matchMedia("(prefers-color-scheme: dark)");
    scheme.addEventListener("change", draw);
    return () => {
      resize.disconnect();
      scheme.removeEventListener("change", draw);
      plot?.destroy();
    };
  }, [points, kind, unit]);
  const total = points.reduce((n, p) => n + p.value, 0);
  return (
    <figure className="chart card">
      <figcaption>
        <span className="chart-title">{title}</span>
        <span className="muted small">
          {kind === "bars" ? `${total.toLocaleString()} in 30 days` : `${(points.at(-1)?.value ?? 0).toLocaleString()} today`}
        </span>
      </figcaption>
      <div ref={box} className="chart-plot" aria-hidden="true" />
      <table className="sr-only">
        <caption>{title}</caption>
        <tbody>
          {points.map((p) => (
            <tr key={p.day}>
              <th scope="row">{p.day}</th>
              <td>
                {p.value} {unit}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
