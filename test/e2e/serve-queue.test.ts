// The per-model queue on its own: one slot at a time, FIFO, bounded waiting, aborts while waiting,
// idempotent release, close() failing waiters.
import { describe, expect, it } from 'vitest';
import { ModelQueue, QueueClosedError, QueueFullError } from '../../src/serve/queue.js';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('ModelQueue', () => {
  it('runs one at a time, in arrival order, and refuses beyond the bound', async () => {
    const q = new ModelQueue(2);
    const order: string[] = [];
    const a = q.enter();
    const b = q.enter();
    const c = q.enter();
    expect(() => q.enter()).toThrow(QueueFullError);
    for (const [name, s] of [['a', a], ['b', b], ['c', c]] as const) void s.ready.then(() => order.push(name));
    await tick();
    expect(order).toEqual(['a']);
    expect(q.busy).toBe(true);
    expect(q.waitingCount).toBe(2);
    a.release();
    a.release(); // twice is harmless
    await tick();
    expect(order).toEqual(['a', 'b']);
    b.release();
    await tick();
    expect(order).toEqual(['a', 'b', 'c']);
    c.release();
    expect(q.busy).toBe(false);
  });

  it('queueSize 0 admits only the running request', () => {
    const q = new ModelQueue(0);
    const a = q.enter();
    const err = (() => {
      try {
        q.enter();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(QueueFullError);
    expect((err as QueueFullError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    a.release();
    q.enter().release();
  });

  it('an abort while waiting leaves the queue and rejects ready; release of a waiter does too', async () => {
    const q = new ModelQueue(3);
    const a = q.enter();
    const ac = new AbortController();
    const b = q.enter(ac.signal);
    const c = q.enter();
    const d = q.enter();
    ac.abort();
    await expect(b.ready).rejects.toThrow();
    expect(q.waitingCount).toBe(2);
    c.release(); // gave up before its turn
    await expect(c.ready).rejects.toThrow();
    expect(q.waitingCount).toBe(1);
    a.release();
    await d.ready; // next in line is d
    d.release();
    expect(q.busy).toBe(false);
    const pre = new AbortController();
    pre.abort();
    await expect(q.enter(pre.signal).ready).rejects.toThrow();
    expect(q.busy).toBe(false);
  });

  it('close() fails waiters and refuses new requests; the running one finishes', async () => {
    const q = new ModelQueue(2);
    const a = q.enter();
    const b = q.enter();
    q.close();
    await expect(b.ready).rejects.toBeInstanceOf(QueueClosedError);
    expect(() => q.enter()).toThrow(QueueClosedError);
    await a.ready;
    a.release();
    expect(q.busy).toBe(false);
  });
});
