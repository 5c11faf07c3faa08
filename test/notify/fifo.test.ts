import t from 'tap';
import { Fifo } from '../../src/notify/fifo.js';

t.test('first in, first out across compactions', async (t) => {
  const q = new Fifo<number>();
  for (let i = 0; i < 5000; i++) q.push(i);
  const out: Array<number | undefined> = [];
  for (let i = 0; i < 4000; i++) out.push(q.shift());
  t.same(out, Array.from({ length: 4000 }, (_, i) => i));
  t.equal(q.length, 1000);
  t.equal(q.at(0), 4000);
  t.equal(q.at(999), 4999);
  t.equal(q.at(1000), undefined);
  t.same([...q].slice(0, 3), [4000, 4001, 4002]);
});

t.test('unshiftAll puts items back at the front in order', async (t) => {
  const q = new Fifo<string>();
  q.push('c');
  q.push('d');
  q.unshiftAll(['a', 'b']); // no room before the head: rebuilds
  t.same([...q], ['a', 'b', 'c', 'd']);
  q.shift();
  q.shift();
  q.unshiftAll(['x', 'y']); // room before the head: reuses it
  t.same([...q], ['x', 'y', 'c', 'd']);
  t.equal(q.length, 4);
});

t.test('empty queue', async (t) => {
  const q = new Fifo<number>();
  t.equal(q.shift(), undefined);
  t.equal(q.at(0), undefined);
  t.equal(q.length, 0);
  q.push(1);
  t.equal(q.shift(), 1);
  t.equal(q.length, 0);
});
