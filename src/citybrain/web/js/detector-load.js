// The detector's load, sampled from the server's Prometheus metrics every few seconds while
// the dashboard is open: images per second, mean latency per batch and queue depth.
import { timeChart } from './charts.js';
import { h, replace } from './dom.js';

const EVERY_MS = 5000;
const KEEP = 120;

/** Sum of every sample of `name` (all label sets) in a Prometheus text exposition. */
export function metricSum(text, name) {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

export class DetectorLoad {
  constructor(panel) {
    this.panel = panel;
    this.samples = [];
    this.timer = null;
    this.chart = null;
    replace(panel, h('h2', {}, 'Detector load'), h('p', { class: 'muted' }, 'Sampling every 5 s…'));
  }

  start() {
    this.sample();
    this.timer = setInterval(() => this.sample(), EVERY_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.chart?.destroy();
  }

  async sample() {
    let text;
    try {
      const response = await fetch('/metrics', { credentials: 'same-origin' });
      if (response.status === 403) {
        this.stop();
        replace(
          this.panel,
          h('h2', {}, 'Detector load'),
          h('p', { class: 'muted' }, 'Not shown to accounts limited to some cameras.'),
        );
        return;
      }
      text = await response.text();
    } catch {
      return;
    }
    const now = Date.now() / 1000;
    const point = {
      t: now,
      images: metricSum(text, 'citybrain_detector_images_total'),
      latencySum: metricSum(text, 'citybrain_detector_latency_seconds_sum'),
      latencyCount: metricSum(text, 'citybrain_detector_latency_seconds_count'),
      queue: metricSum(text, 'citybrain_detector_queue_depth'),
    };
    const last = this.samples.at(-1)?.raw;
    if (last) {
      const dt = point.t - last.t;
      const calls = point.latencyCount - last.latencyCount;
      this.samples.push({
        t: now,
        rate: Math.max(0, (point.images - last.images) / dt),
        latency: calls > 0 ? ((point.latencySum - last.latencySum) / calls) * 1000 : null,
        queue: point.queue,
        raw: point,
      });
    } else {
      this.samples.push({ t: now, rate: null, latency: null, queue: point.queue, raw: point });
    }
    this.samples = this.samples.slice(-KEEP);
    this.draw();
  }

  draw() {
    if (this.samples.length < 2) return;
    this.chart?.destroy();
    const xs = this.samples.map((s) => s.t);
    this.chart = timeChart(this.panel, 'Detector load (since this page opened)', xs, [
      { label: 'images/s', values: this.samples.map((s) => s.rate) },
      { label: 'mean latency, ms', values: this.samples.map((s) => s.latency) },
      { label: 'queue depth', values: this.samples.map((s) => s.queue) },
    ]);
  }
}
