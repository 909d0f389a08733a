import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotHistogram } from '../../src/metrics/hot-histogram.js';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const LABELS = ['method', 'route', 'status_code'] as const;

/** The same observations through prom-client's Histogram and through HotHistogram. */
function both() {
  const stock = new Registry();
  const hot = new Registry();
  const reference = new Histogram({ name: 'h_seconds', help: 'A help text', labelNames: LABELS, buckets: BUCKETS, registers: [stock] });
  const histogram = new HotHistogram('h_seconds', 'A help text', LABELS, BUCKETS, hot);
  return {
    observe(labels: Record<(typeof LABELS)[number], string | number>, value: number) {
      reference.observe(labels, value);
      histogram.observe(labels, value);
    },
    histogram,
    texts: async () => [await stock.metrics(), await hot.metrics()],
  };
}

describe('HotHistogram', () => {
  it('shows on /metrics exactly what prom-client’s Histogram shows for the same observations', async () => {
    const pair = both();
    // Values on bucket bounds, between them, above the last, zero; label values needing escapes.
    const values = [0, 0.005, 0.0051, 0.01, 0.3, 1, 1.5, 42, 0.07, 0.25];
    const labelSets = [
      { method: 'POST', route: '/api/v1/messages', status_code: 201 },
      { method: 'GET', route: '/api/v1/messages/:id', status_code: 200 },
      { method: 'BREW"\\\n', route: 'unmatched', status_code: 404 },
    ];
    let i = 0;
    for (const value of values) for (const labels of labelSets) pair.observe(labels, value * (1 + (i++ % 3)));
    const [stock, hot] = await pair.texts();
    expect(hot).toBe(stock);
    expect(hot).toContain('h_seconds_count{method="POST",route="/api/v1/messages",status_code="201"} 10');
  });

  it('shows nothing for a histogram never observed, and forgets everything on reset', async () => {
    const pair = both();
    let [stock, hot] = await pair.texts();
    expect(hot).toBe(stock);
    pair.observe({ method: 'GET', route: '/x', status_code: 200 }, 0.2);
    pair.histogram.reset();
    [, hot] = await pair.texts();
    expect(hot).not.toContain('h_seconds_count');
  });

  it('keeps series apart whose label values would run together', async () => {
    const pair = both();
    pair.observe({ method: 'GET', route: 'a', status_code: '1' }, 0.1);
    pair.observe({ method: 'GETa', route: '', status_code: '1' }, 0.1);
    const [stock, hot] = await pair.texts();
    expect(hot).toBe(stock);
    expect(hot.match(/_count/g)).toHaveLength(2);
  });
});
