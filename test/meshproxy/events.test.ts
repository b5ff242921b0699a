/** Connection events: one line per listener and class per interval, the rest counted as suppressed. */
import test from 'ava';
import { MeshEvents } from '../../meshproxy/events.js';
import { recordingLogger } from '../initializer/helpers/logs.js';

function capture(): { lines: Record<string, unknown>[]; events: MeshEvents; advance: (ms: number) => void } {
  const { logger: log, lines } = recordingLogger('info');
  let now = 1_000_000;
  return {
    lines,
    events: new MeshEvents(log, 10_000, () => now),
    advance: (ms) => {
      now += ms;
    },
  };
}

const ctx = { listener: 'ingress', direction: 'ingress' as const, peer: '10.0.0.1:5000', destination: '10.0.0.2:9000' };

test('a flood of one class gives one line per interval, then the count of those left out', (t) => {
  const { lines, events, advance } = capture();
  for (let i = 0; i < 1000; i++) events.refused(ctx, 'plaintext');
  t.is(lines.length, 1);
  t.like(lines[0], {
    level: 'INFO',
    msg: 'connection refused',
    listener: 'ingress',
    peer: '10.0.0.1:5000',
    destination: '10.0.0.2:9000',
    reason: 'plaintext',
  });
  t.false('suppressed' in (lines[0] ?? {}));
  advance(10_000);
  events.refused(ctx, 'plaintext');
  t.is(lines.length, 2);
  t.is(lines[1]?.['suppressed'], 999);
});

test('classes and listeners are limited separately; failures are WARN', (t) => {
  const { lines, events } = capture();
  events.refused(ctx, 'plaintext');
  events.refused(ctx, 'expired');
  events.refused({ ...ctx, listener: 'ingressWithoutClientAuth' }, 'plaintext');
  events.failed(ctx, 'upstream connect: ECONNREFUSED');
  events.failed(ctx, 'upstream connect: ETIMEDOUT');
  events.shed(ctx, 151, 150);
  t.deepEqual(
    lines.map((l) => [l['level'], l['msg'], l['reason']]),
    [
      ['INFO', 'connection refused', 'plaintext'],
      ['INFO', 'connection refused', 'expired'],
      ['INFO', 'connection refused', 'plaintext'],
      ['WARN', 'connection failed', 'upstream connect: ECONNREFUSED'],
      ['WARN', 'pending handshakes over the limit, dropped the oldest', 'overload'],
    ],
  );
});
