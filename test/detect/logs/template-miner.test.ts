import { describe, expect, it } from 'vitest';
import {
  ENUM,
  maskToken,
  TemplateMiner,
  tokenize,
  tokenKind,
  VARIABLE,
  WORD,
} from '../../../src/detect/logs/template-miner.js';

describe('maskToken', () => {
  it('masks letter-and-digit runs that are values, keeps names with a short number', () => {
    expect(maskToken('blk_-4873225462354632')).toBe('blk_<*>');
    expect(maskToken('10.251.39.64:50010')).toBe('<*>:<*>');
    expect(maskToken('/10.250.19.102:54106')).toBe('/<*>:<*>');
    expect(maskToken('uid=0')).toBe('uid=<*>');
    expect(maskToken('(HWID=1973)')).toBe('(HWID=<*>)');
    expect(maskToken('appattempt_1445144423722_0020_000001')).toBe('appattempt_<*>');
    expect(maskToken('0x1F')).toBe('<*>');
    expect(maskToken('de9231d')).toBe('<*>');
    expect(maskToken('2015-10-18')).toBe('<*>');
    expect(maskToken('eth0')).toBe('eth0');
    expect(maskToken('IPv4')).toBe('IPv4');
    expect(maskToken('user12345')).toBe('<*>');
  });

  it('returns a token without digits as it is', () => {
    const t = 'terminating';
    expect(maskToken(t)).toBe(t);
    expect(maskToken('')).toBe('');
  });
});

describe('tokenKind', () => {
  it('tells words, values and the parts that name an event', () => {
    expect(tokenKind('<*>')).toBe(VARIABLE);
    expect(tokenKind('<*>:<*>')).toBe(VARIABLE);
    expect(tokenKind('uid=<*>')).toBe(WORD);
    expect(tokenKind('com.apple.Safari.SafeBrowsing')).toBe(VARIABLE);
    expect(tokenKind('/var/log/syslog')).toBe(VARIABLE);
    expect(tokenKind('user=root')).toBe(ENUM);
    expect(tokenKind('overlap:false,')).toBe(ENUM);
    expect(tokenKind('true')).toBe(ENUM);
    expect(tokenKind('(Off)')).toBe(ENUM);
    expect(tokenKind('eth0')).toBe(ENUM);
    expect(tokenKind('terminating')).toBe(WORD);
    expect(tokenKind('TCP/IP')).toBe(WORD);
  });
});

describe('tokenize', () => {
  it('splits on white-space runs and joins the rest into the last token at the limit', () => {
    expect(tokenize('  a \tb  c ', 10)).toEqual({ tokens: ['a', 'b', 'c'], truncated: false });
    expect(tokenize('a b c d', 3)).toEqual({ tokens: ['a', 'b', 'c d'], truncated: true });
    expect(tokenize('a b c', 3)).toEqual({ tokens: ['a', 'b', 'c'], truncated: false });
    expect(tokenize('', 3)).toEqual({ tokens: [], truncated: false });
  });
});

describe('TemplateMiner', () => {
  it('groups lines of one event and returns their parameters', () => {
    const m = new TemplateMiner();
    const a = m.add('PacketResponder 1 for block blk_38865049064139660 terminating');
    const b = m.add('PacketResponder 0 for block blk_-6952295868487656571 terminating');
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.templateId).toBe(a.templateId);
    expect(b.template).toBe('PacketResponder <*> for block blk_<*> terminating');
    expect(b.params).toEqual(['0', '-6952295868487656571']);
    const c = m.add(
      'Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010',
    );
    expect(c.templateId).not.toBe(a.templateId);
    expect(c.template).toBe('Receiving block blk_<*> src: /<*>:<*> dest: /<*>:<*>');
    expect(c.params).toEqual(['-1608999687919862906', '10.250.19.102', '54106', '10.250.19.102', '50010']);
  });

  it('generalises a word that varies, keeps apart lines that differ in a key=word, a boolean or a short line', () => {
    const m = new TemplateMiner();
    const u1 = m.add('session opened for user cyrus by (uid=0)');
    const u2 = m.add('session opened for user news by (uid=0)');
    expect(u2.templateId).toBe(u1.templateId);
    expect(u2.template).toBe('session opened for user <*> by (uid=<*>)');
    expect(u2.params).toEqual(['news', '0']);
    const r = m.add(
      'authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=10.0.0.1 user=root',
    );
    const g = m.add(
      'authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=10.0.0.2 user=guest',
    );
    expect(g.templateId).not.toBe(r.templateId);
    const t = m.add('interceptKeyTq keycode=4 interactive=true down true canceled false');
    const f = m.add('interceptKeyTq keycode=4 interactive=true down false canceled false');
    expect(f.templateId).not.toBe(t.templateId);
    const b = m.add('startAnimation begin');
    const e = m.add('startAnimation end');
    expect(e.templateId).not.toBe(b.templateId);
  });

  it('summarises each parameter: count, numeric range, a bounded set of values, kept when the template generalises', () => {
    const m = new TemplateMiner({ maxValuesPerParam: 3 });
    for (const [n, who] of [
      [5, 'a'],
      [12, 'b'],
      [-3, 'c'],
      [7, 'a'],
    ] as const)
      m.add(`job done in ${n} ms by worker-x${who}y`);
    const [tpl] = m.templates();
    expect(tpl.tokens.join(' ')).toBe('job done in <*> ms by <*>');
    expect(tpl.count).toBe(4);
    expect(tpl.example).toBe('job done in 5 ms by worker-xay');
    const [ms, who] = tpl.params;
    expect(ms).toMatchObject({ count: 4, numeric: 4, min: -3, max: 12, overflow: true });
    expect(ms.values).toEqual(['5', '12', '-3']);
    // The word became a variable at the second line: its first value is kept.
    expect(who).toMatchObject({ count: 4, numeric: 0, overflow: false });
    expect(who.values).toEqual(['worker-xay', 'worker-xby', 'worker-xcy']);
  });

  it('match() finds a learned template and learns nothing', () => {
    const m = new TemplateMiner();
    const a = m.add('Deleting block blk_1 file /data/blk_1');
    const hit = m.match('Deleting block blk_2 file /data/blk_2');
    expect(hit.templateId).toBe(a.templateId);
    expect(hit.params).toEqual(['2', '2']);
    expect(m.match('something never seen before here').templateId).toBe(0);
    expect(m.stats()).toMatchObject({ lines: 1, templates: 1 });
    expect(m.templates()[0].count).toBe(1);
  });

  it('counts each bound when it is hit', () => {
    const m = new TemplateMiner({ maxTemplates: 2, maxTokens: 4, maxLineLength: 40 });
    expect(m.add('alpha one').templateId).toBe(1);
    expect(m.add('beta two three').templateId).toBe(2);
    const over = m.add('gamma four five six seven');
    expect(over.templateId).toBe(0);
    expect(m.add('x'.repeat(100)).templateId).toBe(0);
    expect(m.stats()).toEqual({
      lines: 4,
      templates: 2,
      templateLimitHits: 2,
      tokenLimitHits: 1,
      lengthLimitHits: 1,
    });
  });

  it('refuses a configuration out of range', () => {
    expect(() => new TemplateMiner({ similarity: 2 })).toThrow(/config\.similarity/);
    expect(() => new TemplateMiner({ maxTokens: 0 })).toThrow(/config\.maxTokens/);
  });
});
