// Charts with uPlot (canvas, ~50 kB): time series per group, values on hover in the legend,
// times in the browser's zone. The chart follows its container's width.
import uPlot from '../vendor/uplot/uPlot.esm.js';
import { h } from './dom.js';

const PALETTE = [
  '#38bdf8',
  '#f59e0b',
  '#22c55e',
  '#ef4444',
  '#a78bfa',
  '#f472b6',
  '#2dd4bf',
  '#facc15',
  '#fb923c',
  '#94a3b8',
];
const AXIS = {
  stroke: '#93a4b8',
  grid: { stroke: '#263445', width: 1 },
  ticks: { stroke: '#263445' },
};

/**
 * A time-series chart in `container`.
 * @param {number[]} xs bucket starts in seconds
 * @param {{label: string, values: number[]}[]} series
 */
export function timeChart(container, title, xs, series, { unit = '', height = 220 } = {}) {
  container.replaceChildren(h('h2', {}, title));
  if (!series.length || !xs.length) {
    container.append(h('p', { class: 'muted' }, 'Nothing in this time range.'));
    return null;
  }
  const rem = Number.parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const box = h('div', {
    class: 'chart',
    role: 'img',
    'aria-label': `${title}: ${summary(series)}`,
  });
  container.append(box);
  const options = {
    width: Math.max(300, box.clientWidth || container.clientWidth || 600),
    height: Math.round((height * rem) / 16),
    cursor: { points: { size: 8 } },
    legend: { live: true },
    scales: { x: { time: true } },
    axes: [
      { ...AXIS, font: `${0.8 * rem}px system-ui`, size: 3 * rem },
      {
        ...AXIS,
        font: `${0.8 * rem}px system-ui`,
        size: 3.5 * rem,
        label: unit,
        labelFont: `${0.8 * rem}px system-ui`,
      },
    ],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: PALETTE[i % PALETTE.length],
        width: 2,
        fill: `${PALETTE[i % PALETTE.length]}22`,
        points: { show: xs.length < 80 },
        value: (_u, v) =>
          v === null || v === undefined ? '—' : `${round(v)}${unit ? ` ${unit}` : ''}`,
      })),
    ],
  };
  const chart = new uPlot(options, [xs, ...series.map((s) => s.values)], box);
  const observer = new ResizeObserver(() => {
    const width = Math.max(300, box.clientWidth);
    if (Math.abs(width - chart.width) > 4) chart.setSize({ width, height: chart.height });
  });
  observer.observe(box);
  return {
    chart,
    destroy() {
      observer.disconnect();
      chart.destroy();
    },
  };
}

function round(v) {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100;
}

function summary(series) {
  return series.map((s) => `${s.label} ${s.values.reduce((a, b) => a + (b || 0), 0)}`).join(', ');
}

/** Hour (or day) bucket starts, in seconds, from `since` to `until`. */
export function buckets(since, until, bucket) {
  const step = bucket === 'day' ? 86400 : 3600;
  const start = Math.floor(since.getTime() / 1000 / step) * step;
  const end = until.getTime() / 1000;
  const xs = [];
  for (let t = start; t < end; t += step) xs.push(t);
  return xs;
}

/** Group rows into series: one per key(row), summing count(row) into its bucket. */
export function group(rows, xs, key, count = (r) => r.count) {
  const index = new Map(xs.map((x, i) => [x, i]));
  const series = new Map();
  for (const row of rows) {
    const i = index.get(Math.floor(Date.parse(row.bucket_start) / 1000));
    if (i === undefined) continue;
    const label = key(row);
    if (!series.has(label)) series.set(label, new Array(xs.length).fill(0));
    series.get(label)[i] += count(row);
  }
  return [...series.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, values]) => ({ label, values }));
}
