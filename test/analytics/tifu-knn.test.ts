import { describe, expect, it } from 'vitest';
import { tifuKnn, type TifuKnnParams } from '../bench/tifu-knn.ts';

// The TIFU-KNN baseline that the analytics bench ranks against (test/bench/tifu-knn.ts).
const params = (p: Partial<TifuKnnParams> = {}): TifuKnnParams => ({
  groupSize: 2,
  withinDecay: 0.5,
  groupDecay: 0.4,
  neighbours: 1,
  alpha: 1,
  ...p,
});

describe('TIFU-KNN baseline', () => {
  it('weighs baskets within groups and groups by their decays, counted back from the latest basket', () => {
    // groups: [a] (oldest, weight 0.4 / 2) and [b, c] (weight 1 / 2; b decayed by 0.5, each / 2):
    // a 0.2, b 0.125, c 0.25
    const top = tifuKnn(new Map([['m', [['a'], ['b'], ['c']]]]), params(), 3);
    expect(top.get('m')).toEqual(['c', 'a', 'b']);
    // Without decay, frequency alone: d bought twice leads
    const flat = tifuKnn(new Map([['m', [['d', 'e'], ['d'], ['f']]]]), params({ withinDecay: 1, groupDecay: 1, groupSize: 3 }), 2);
    expect(flat.get('m')).toEqual(['d', 'e']);
  });

  it('adds what the nearest neighbours buy, after the member’s own items when α leans on them', () => {
    const histories = new Map([
      ['u', [['a', 'b']]],
      ['close', [['a', 'b', 'c']]],
      ['far', [['a', 'd', 'e', 'f']]],
      ['alone', [['q']]],
    ]);
    const top = tifuKnn(histories, params({ alpha: 0.6 }), 3);
    // u's nearest is `close` (cosine 0.82 against 0.35): c comes in, d does not
    expect(top.get('u')).toEqual(['a', 'b', 'c']);
    // nobody shares q: no neighbour, own items only
    expect(top.get('alone')).toEqual(['q']);
    // with two neighbours and little weight on itself, `far`'s items reach u's list too
    const two = tifuKnn(histories, params({ alpha: 0.2, neighbours: 2 }), 6);
    expect(two.get('u')!.slice(0, 3)).toEqual(['a', 'b', 'c']);
    expect(new Set(two.get('u'))).toEqual(new Set(['a', 'b', 'c', 'd', 'e', 'f']));
  });

  it('keeps the K most similar members when more share an item (ties: the earlier member)', () => {
    const histories = new Map([
      ['u', [['a']]],
      ['t1', [['a', 'x1']]],
      ['t2', [['a', 'x2']]],
      ['t3', [['a', 'x3']]],
      ['less', [['a', 'b', 'c']]],
    ]);
    // t1–t3 are equally similar to u (1/√2), `less` less (1/√3): two neighbours are t1 and t2
    expect(tifuKnn(histories, params({ alpha: 0.5, neighbours: 2 }), 4).get('u')).toEqual(['a', 'x1', 'x2']);
  });

  it('ranks as a direct computation of the definition does, on random histories', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const items = Array.from({ length: 15 }, (_, i) => `i${i}`);
    const histories = new Map<string, string[][]>();
    for (let m = 0; m < 40; m++) {
      const baskets = Array.from({ length: 2 + Math.floor(random() * 8) }, () =>
        items.filter(() => random() < 0.25));
      histories.set(`m${m}`, baskets);
    }
    const p = params({ groupSize: 3, withinDecay: 0.9, groupDecay: 0.7, neighbours: 5, alpha: 0.7 });
    // the definition, dense and without shortcuts
    const vector = (baskets: string[][]) => {
      const v = new Map(items.map((i) => [i, 0]));
      const groups: string[][][] = [];
      for (let end = baskets.length; end > 0; end -= p.groupSize) groups.unshift(baskets.slice(Math.max(0, end - p.groupSize), end));
      groups.forEach((g, gi) => g.forEach((b, j) => {
        for (const i of new Set(b)) {
          v.set(i, v.get(i)! + (p.groupDecay ** (groups.length - 1 - gi) / groups.length) * (p.withinDecay ** (g.length - 1 - j)) / g.length);
        }
      }));
      return v;
    };
    const vectors = new Map([...histories].map(([m, b]) => [m, vector(b)]));
    const cos = (a: Map<string, number>, b: Map<string, number>) => {
      const dot = items.reduce((s, i) => s + a.get(i)! * b.get(i)!, 0);
      const norm = (x: Map<string, number>) => Math.sqrt(items.reduce((s, i) => s + x.get(i)! ** 2, 0));
      return dot / (norm(a) * norm(b));
    };
    const top = tifuKnn(histories, p, 6);
    for (const [m, v] of vectors) {
      const near = [...vectors].filter(([o, w]) => o !== m && cos(v, w) > 0)
        .sort((a, b) => cos(v, b[1]) - cos(v, a[1])).slice(0, p.neighbours);
      const score = (i: string) => p.alpha * v.get(i)! + near.reduce((s, [, w]) => s + (1 - p.alpha) * w.get(i)! / near.length, 0);
      const expected = items.filter((i) => score(i) > 0).sort((a, b) => score(b) - score(a)).slice(0, 6);
      expect(top.get(m), m).toEqual(expected);
    }
  });

  it('gives an empty list to a member without baskets and refuses nonsense parameters', () => {
    expect(tifuKnn(new Map([['m', []]]), params(), 5).get('m')).toEqual([]);
    expect(() => tifuKnn(new Map(), params({ alpha: 2 }), 5)).toThrow(RangeError);
    expect(() => tifuKnn(new Map(), params({ groupSize: 0 }), 5)).toThrow(RangeError);
  });
});
