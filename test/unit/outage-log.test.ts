import { describe, expect, it } from 'vitest';
import { OutageLog } from '../../src/common/outage-log.js';

function setup() {
  let now = 1_000_000;
  const lines: string[] = [];
  const logger = { warn: (line: string) => lines.push(`warn ${line}`), log: (line: string) => lines.push(`log ${line}`) };
  const outage = new OutageLog(logger, { down: 'Store down', stillDown: 'Store still down', back: 'Store back' }, () => now);
  return { outage, lines, advance: (ms: number) => (now += ms) };
}

describe('OutageLog', () => {
  it('warns once when failures start, reminds once a minute, and says when it works again', () => {
    const { outage, lines, advance } = setup();
    outage.succeeded();
    for (let i = 0; i < 1000; i++) outage.failed('connection refused');
    advance(59_000);
    outage.failed('connection refused');
    expect(lines).toEqual(['warn Store down: connection refused']);
    advance(1_000);
    outage.failed('timed out');
    outage.failed('timed out');
    advance(30_000);
    outage.succeeded();
    outage.succeeded();
    expect(lines).toEqual(['warn Store down: connection refused', 'warn Store still down after 60 s: timed out', 'log Store back after 90 s']);
  });

  it('treats a failure after a recovery as a new outage', () => {
    const { outage, lines, advance } = setup();
    outage.failed('one');
    advance(5_000);
    outage.succeeded();
    advance(1_000);
    outage.failed('two');
    expect(lines).toEqual(['warn Store down: one', 'log Store back after 5 s', 'warn Store down: two']);
  });
});
