import { describe, expect, it } from '@jest/globals';
import { PatternIndex } from '../../../lib/routing/pattern-index.js';
import { instance } from '../balancer/fixtures.js';

describe('PatternIndex', () => {
  it('matches patterns and events against the registered metadata', () => {
    const index = new PatternIndex();
    const a = instance('a:1', 1, { patterns: JSON.stringify(['sum', '{"cmd":"x"}']), events: JSON.stringify(['created']) });
    expect(index.serves(a, 'sum', 'patterns')).toBe(true);
    expect(index.serves(a, '{"cmd":"x"}', 'patterns')).toBe(true);
    expect(index.serves(a, 'other', 'patterns')).toBe(false);
    expect(index.serves(a, 'created', 'events')).toBe(true);
    expect(index.serves(a, 'sum', 'events')).toBe(false);
  });

  it('an instance without (or with malformed) metadata serves everything', () => {
    const index = new PatternIndex();
    expect(index.serves(instance('a:1'), 'anything', 'patterns')).toBe(true);
    expect(index.serves(instance('b:1', 1, { patterns: 'not json' }), 'x', 'patterns')).toBe(true);
    expect(index.serves(instance('c:1', 1, { patterns: '{"a":1}' }), 'x', 'patterns')).toBe(true);
  });

  it('parses once per instance object', () => {
    const index = new PatternIndex();
    const a = instance('a:1', 1, { patterns: JSON.stringify(['sum']) });
    const parse = JSON.parse;
    let calls = 0;
    JSON.parse = ((...args: Parameters<typeof JSON.parse>) => (calls++, parse(...args))) as typeof JSON.parse;
    try {
      for (let i = 0; i < 100; i++) index.serves(a, 'sum', 'patterns');
    } finally {
      JSON.parse = parse;
    }
    expect(calls).toBe(1); // patterns only; events metadata absent
  });

  it('parses each distinct list once and shares it between instances (a thousand providers, one set)', () => {
    const index = new PatternIndex();
    const text = JSON.stringify(['sum', 'max']);
    const parse = JSON.parse;
    let calls = 0;
    JSON.parse = ((...args: Parameters<typeof JSON.parse>) => (calls++, parse(...args))) as typeof JSON.parse;
    try {
      for (let i = 0; i < 1000; i++) {
        // A fresh object and a fresh string each time, as every registry push delivers them.
        const a = instance(`10.0.0.${i}:1`, 1, { patterns: `${text} `.trimEnd() });
        expect(index.serves(a, 'max', 'patterns')).toBe(true);
        expect(index.serves(a, 'min', 'patterns')).toBe(false);
      }
      expect(index.serves(instance('x:1', 1, { patterns: 'not json' }), 'min', 'patterns')).toBe(true);
      expect(index.serves(instance('y:1', 1, { patterns: 'not json' }), 'min', 'patterns')).toBe(true);
    } finally {
      JSON.parse = parse;
    }
    expect(calls).toBe(2); // the list once, the malformed text once
  });
});
