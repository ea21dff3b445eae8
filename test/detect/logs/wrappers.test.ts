import { describe, expect, it } from 'vitest';
import {
  decodeCri,
  decodeDockerJson,
  LogDecoder,
  MultilineJoiner,
  type LogEvent,
} from '../../../src/detect/logs/wrappers.js';

const read = (d: LogDecoder, lines: string[]): LogEvent[] => {
  const out: LogEvent[] = [];
  for (const l of lines) d.push(l, out);
  return d.flush(out);
};

describe('Docker json-file lines', () => {
  it('decodes a line and joins the entries of a line longer than 16 KiB', () => {
    expect(
      decodeDockerJson('{"log":"GET / 200\\n","stream":"stdout","time":"2019-04-30T09:04:27.540434392Z"}'),
    ).toEqual({
      ok: true,
      log: 'GET / 200',
      stream: 'stdout',
      time: '2019-04-30T09:04:27.540434392Z',
      partial: false,
    });
    const d = new LogDecoder('c1-json.log', 'docker');
    const long = 'x'.repeat(16384);
    const events = read(d, [
      JSON.stringify({ log: long, stream: 'stdout', time: '2019-04-30T09:04:27.1Z' }),
      JSON.stringify({ log: 'err\n', stream: 'stderr', time: '2019-04-30T09:04:27.2Z' }),
      JSON.stringify({ log: 'tail\n', stream: 'stdout', time: '2019-04-30T09:04:27.3Z' }),
    ]);
    expect(events).toEqual([
      { message: 'err', stream: 'stderr', time: '2019-04-30T09:04:27.2Z', line: 2 },
      { message: long + 'tail', stream: 'stdout', time: '2019-04-30T09:04:27.1Z', line: 1 },
    ]);
  });

  it('counts and names a malformed line, and goes on', () => {
    const d = new LogDecoder('c1-json.log', 'docker');
    const events = read(d, ['{"log": 3}', 'not json', '{"log":"x\\n","stream":"fd3"}', '{"log":"ok\\n"}']);
    expect(events.map((e) => e.message)).toEqual(['ok']);
    expect(d.stats()).toMatchObject({ lines: 4, events: 1, malformed: 3 });
    expect(d.errors.map((e) => e.message)).toEqual([
      'c1-json.log:1: no string "log" field',
      'c1-json.log:2: not a JSON object',
      'c1-json.log:3: "stream" must be "stdout" or "stderr"',
    ]);
  });
});

describe('CRI lines', () => {
  it('decodes a line and joins partial (P) lines per stream until F', () => {
    expect(decodeCri('2016-10-06T00:17:09.669794202Z stdout F The content of the log entry 1')).toEqual({
      ok: true,
      log: 'The content of the log entry 1',
      stream: 'stdout',
      time: '2016-10-06T00:17:09.669794202Z',
      partial: false,
    });
    const d = new LogDecoder('/var/log/pods/ns_p_uid/c/0.log', 'cri');
    const events = read(d, [
      '2016-10-06T00:17:09.669794202Z stdout P First line of ',
      '2016-10-06T00:17:09.669794203Z stderr F an error',
      '2016-10-06T00:17:10.113242941Z stdout P log entry 2 ',
      '2016-10-06T00:17:10.113242942Z stdout F ends here',
      '2016-10-06T00:17:10.113242943Z stdout F ',
    ]);
    expect(events).toEqual([
      {
        message: 'First line of log entry 2 ends here',
        stream: 'stdout',
        time: '2016-10-06T00:17:09.669794202Z',
        line: 1,
      },
      { message: 'an error', stream: 'stderr', time: '2016-10-06T00:17:09.669794203Z', line: 2 },
      { message: '', stream: 'stdout', time: '2016-10-06T00:17:10.113242943Z', line: 5 },
    ]);
  });

  it('names what is wrong in a bad CRI line', () => {
    expect(decodeCri('yesterday stdout F x')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/time stamp/),
    });
    expect(decodeCri('2016-10-06T00:17:09.669794202Z stdin F x')).toMatchObject({
      reason: expect.stringMatching(/stream/),
    });
    expect(decodeCri('2016-10-06T00:17:09.669794202Z stdout X x')).toMatchObject({
      reason: expect.stringMatching(/tag/),
    });
    const d = new LogDecoder('0.log', 'cri');
    read(d, ['2016-10-06T00:17:09.669794202Z stdout', 'plain text']);
    expect(d.errors.map((e) => e.message)).toEqual([
      '0.log:1: CRI line without a tag',
      '0.log:2: not a CRI time stamp: "plain"',
    ]);
  });

  it('in auto mode, reads each line as whatever it is', () => {
    const d = new LogDecoder('mixed.log');
    const events = read(d, [
      '{"log":"from docker\\n","stream":"stdout"}',
      '2016-10-06T00:17:09.669794202Z stderr F from cri',
      '{not json, a plain message',
      'a plain line',
    ]);
    expect(events.map((e) => e.message).sort()).toEqual(
      ['a plain line', 'from cri', 'from docker', '{not json, a plain message'].sort(),
    );
    expect(d.stats().malformed).toBe(0);
  });
});

describe('stack traces', () => {
  it('makes one event of a message, a Java exception, its frames and causes', () => {
    const d = new LogDecoder('app.log', 'plain');
    const events = read(d, [
      '2024-01-01 12:00:00 ERROR OrderService - payment failed',
      'java.lang.IllegalStateException: card declined',
      '\tat com.shop.Payment.charge(Payment.java:42)',
      '\tat com.shop.OrderService.place(OrderService.java:17)',
      'Caused by: java.net.SocketTimeoutException: Read timed out',
      '\tat java.base/java.net.SocketInputStream.read(SocketInputStream.java:168)',
      '\t... 12 more',
      '2024-01-01 12:00:01 INFO OrderService - next order',
    ]);
    expect(events.map((e) => [e.line, e.message.split('\n').length])).toEqual([
      [1, 7],
      [8, 1],
    ]);
    expect(events[0].message).toContain('Caused by: java.net.SocketTimeoutException');
  });

  it('makes one event of a message and a chained Python traceback', () => {
    const d = new LogDecoder('app.log', 'plain');
    const events = read(d, [
      'ERROR:root:handler failed',
      'Traceback (most recent call last):',
      '  File "app.py", line 3, in <module>',
      '    int("x")',
      "ValueError: invalid literal for int() with base 10: 'x'",
      '',
      'During handling of the above exception, another exception occurred:',
      '',
      'Traceback (most recent call last):',
      '  File "app.py", line 5, in <module>',
      '    raise KeyError("k")',
      "KeyError: 'k'",
      'INFO:root:next',
    ]);
    expect(events.map((e) => [e.line, e.message.split('\n').length])).toEqual([
      [1, 12],
      [13, 1],
    ]);
  });

  it('leaves an exception line alone when no frame follows it', () => {
    const j = new MultilineJoiner();
    const out = [
      ...j.push('a message', 1),
      ...j.push('java.io.IOException: alone', 2),
      ...j.push('next', 3),
      ...j.flush(),
    ];
    expect(out.map((e) => e.message)).toEqual(['a message', 'java.io.IOException: alone', 'next']);
  });

  it('bounds an event and counts the lines it drops', () => {
    const j = new MultilineJoiner({ maxEventLines: 3, maxLineLength: 1000 });
    const out = j.push('boom', 1);
    for (let i = 0; i < 10; i++) j.push(`\tat f${i}(X.java:${i})`, i + 2, out);
    j.flush(out);
    expect(out).toHaveLength(1);
    expect(out[0].message.split('\n')).toHaveLength(3);
    expect(j.stats).toEqual({ events: 1, joinedLines: 2, truncatedLines: 8 });
  });
});
