import { describe, expect, it } from 'vitest';
import {
  TemplateMiner,
  TemplateStateError,
  type MinerState,
} from '../../../src/detect/logs/template-miner.js';

const LINES = [
  'PacketResponder 1 for block blk_38865049064139660 terminating',
  'Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010',
  'session opened for user cyrus by (uid=0)',
  'PacketResponder 0 for block blk_-6952295868487656571 terminating',
  'session opened for user news by (uid=0)',
  'Verification succeeded for blk_-3544583377289625738',
  'session closed for user news',
  'Received block blk_-1608999687919862906 of size 91178 from /10.250.10.6',
  'session opened for user test by (uid=509)',
  'Verification succeeded for blk_-9073992586687739851',
];

const state = (m: TemplateMiner): MinerState => JSON.parse(JSON.stringify(m)) as MinerState;

describe('template state', () => {
  it('restores to a miner that goes on exactly as one that never stopped', () => {
    const whole = new TemplateMiner();
    const wholeOut = LINES.map((l) => whole.add(l));
    const first = new TemplateMiner();
    LINES.slice(0, 5).forEach((l) => first.add(l));
    const restored = TemplateMiner.fromJSON(state(first));
    const rest = LINES.slice(5).map((l) => restored.add(l));
    expect(rest).toEqual(wholeOut.slice(5));
    expect(state(restored)).toEqual(state(whole));
    // Ids are kept, and new ones continue after them.
    expect(restored.templates().map((t) => t.id)).toEqual(whole.templates().map((t) => t.id));
    expect(restored.stats()).toEqual(whole.stats());
  });

  it('is versioned and carries the configuration', () => {
    const m = new TemplateMiner({ similarity: 0.6, maxTemplates: 50 });
    m.add('a b 1');
    const s = state(m);
    expect(s.format).toBe('vigie-log-templates');
    expect(s.version).toBe(1);
    expect(TemplateMiner.fromJSON(s).config).toMatchObject({ similarity: 0.6, maxTemplates: 50 });
  });

  const learned = (): MinerState => {
    const m = new TemplateMiner({ maxTemplates: 5, maxValuesPerParam: 2 });
    LINES.forEach((l) => m.add(l));
    return state(m);
  };
  const cases: [string, (s: any) => unknown, RegExp][] = [
    ['not an object', () => 'x', /at \$: expected an object/],
    ['another format', (s) => ({ ...s, format: 'drain' }), /\$\.format/],
    ['a later version', (s) => ({ ...s, version: 2 }), /\$\.version: unsupported version 2/],
    [
      'a bad setting',
      (s) => ({ ...s, config: { ...s.config, similarity: 'high' } }),
      /\$\.config\.similarity/,
    ],
    ['templates not a list', (s) => ({ ...s, templates: {} }), /\$\.templates: expected an array/],
    [
      'more templates than allowed',
      (s) => ({ ...s, templates: [...s.templates, ...s.templates] }),
      /more than maxTemplates/,
    ],
    ['ids out of order', (s) => ({ ...s, templates: [...s.templates].reverse() }), /\$\.templates\[1\]\.id/],
    ['an id past nextId', (s) => ({ ...s, nextId: 2 }), /\$\.templates\[1\]\.id/],
    [
      'an empty token',
      (s) => {
        s.templates[0].tokens[0] = '';
        return s;
      },
      /\$\.templates\[0\]\.tokens\[0\]: expected a token/,
    ],
    [
      'a token not a string',
      (s) => {
        s.templates[0].tokens[1] = { toString: 1 };
        return s;
      },
      /\$\.templates\[0\]\.tokens\[1\]: expected a string/,
    ],
    [
      'summaries not matching the parameters',
      (s) => {
        s.templates[0].params.push(s.templates[0].params[0]);
        return s;
      },
      /\$\.templates\[0\]\.params: \d+ summaries for \d+ parameters/,
    ],
    [
      'min above max',
      (s) => {
        Object.assign(s.templates[0].params[0], { min: 10, max: 1 });
        return s;
      },
      /\$\.templates\[0\]\.params\[0\]\.min: greater than max/,
    ],
    [
      'too many values',
      (s) => {
        s.templates[0].params[0].values = ['1', '2', '3'];
        return s;
      },
      /params\[0\]\.values: more than maxValuesPerParam 2/,
    ],
    ['a negative count', (s) => ({ ...s, counters: { ...s.counters, lines: -1 } }), /\$\.counters\.lines/],
  ];
  for (const [what, change, message] of cases)
    it(`refuses a state with ${what}, naming the place`, () => {
      const bad = change(learned());
      let err: unknown;
      try {
        TemplateMiner.fromJSON(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TemplateStateError);
      expect((err as Error).message).toMatch(message);
    });
});
