import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { serviceColor } from "./format.ts";

export interface ChartSeries {
  label: string;
  values: Array<number | null>;
}

export interface ChartProps {
  title: string;
  /** Bucket starts, epoch seconds. */
  times: number[];
  series: ChartSeries[];
  format: (value: number) => string;
  /** Shaded time ranges, epoch seconds (e.g. drop phases). */
  bands?: Array<{ from: number; to: number; label: string }>;
  height?: number;
  spanGaps?: boolean;
}

/**
 * One time-series chart (uPlot: canvas, a few KB, fast with thousands of
 * points). Rebuilt when the series set changes; resized with its box.
 */
export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const options: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height ?? 190,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: "#8b95a5", grid: { stroke: "#2a3140", width: 1 }, ticks: { stroke: "#2a3140" } },
        {
          stroke: "#8b95a5",
          grid: { stroke: "#2a3140", width: 1 },
          ticks: { stroke: "#2a3140" },
          size: 64,
          values: (_u, splits) => splits.map((v) => props.format(v)),
        },
      ],
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: serviceColor(s.label),
          width: 1.5,
          // Latency and error rate exist only where there was traffic: join those points.
          spanGaps: props.spanGaps ?? false,
          value: (_u: uPlot, v: number | null) => (v == null ? "–" : props.format(v)),
        })),
      ],
      hooks: {
        drawClear: [
          (u: uPlot) => {
            const ctx = u.ctx;
            for (const band of props.bands ?? []) {
              const x0 = u.valToPos(band.from, "x", true);
              const x1 = u.valToPos(band.to, "x", true);
              ctx.save();
              ctx.fillStyle = band.label === "DROP_LIVE" ? "rgba(242,169,59,0.10)" : "rgba(120,140,170,0.06)";
              ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
              ctx.restore();
            }
          },
        ],
      },
    };
    const data: uPlot.AlignedData = [props.times, ...props.series.map((s) => s.values)];
    plot.current?.destroy();
    plot.current = new uPlot(options, data, el);
    const resize = new ResizeObserver(() => {
      plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: props.height ?? 190 });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [props.times, props.series, props.bands]);
  return (
    <section class="chart panel">
      <h3>{props.title}</h3>
      <div ref={box} class="chart-box" />
    </section>
  );
}
