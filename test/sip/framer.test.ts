import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamFramer, type FrameEvent } from '../../src/transport/framer.js';
import { DEFAULT_PARSE_LIMITS, parseMessage } from '../../src/sip/parse.js';

const LIMITS = { maxMessageBytes: 65535, maxBufferedBytes: 131072 };

function register(cseq: number, body = ''): Buffer {
  return Buffer.from(
    [
      'REGISTER sip:example.com SIP/2.0',
      'Via: SIP/2.0/TCP 192.0.2.10:5062;branch=z9hG4bK776asdhds' + cseq,
      'Max-Forwards: 70',
      'To: <sip:alice@example.com>',
      'From: <sip:alice@example.com>;tag=1928301774',
      'Call-ID: a84b4c76e66710@pc33.example.com',
      `CSeq: ${cseq} REGISTER`,
      'Contact: <sip:alice@192.0.2.10:5062;transport=tcp>',
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n'),
  );
}

const messages = (evs: FrameEvent[]): Buffer[] => evs.flatMap((e) => (e.type === 'message' ? [e.data] : []));
const types = (evs: FrameEvent[]): string[] => evs.map((e) => e.type);

describe('StreamFramer', () => {
  it('a REGISTER split at every byte offset yields exactly that message', () => {
    const msg = register(1, 'body with ü');
    for (let cut = 0; cut <= msg.length; cut++) {
      const f = new StreamFramer(LIMITS);
      const evs = [...f.push(msg.subarray(0, cut)), ...f.push(msg.subarray(cut))];
      expect(types(evs), `cut ${cut}`).toEqual(['message']);
      expect(messages(evs)[0]?.equals(msg)).toBe(true);
      expect(f.buffered).toBe(0);
    }
  });

  it('byte by byte', () => {
    const msg = register(7, 'x'.repeat(300));
    const f = new StreamFramer(LIMITS);
    const evs: FrameEvent[] = [];
    for (const b of msg) evs.push(...f.push(Buffer.from([b])));
    expect(messages(evs).map((m) => m.toString())).toEqual([msg.toString()]);
  });

  it('several messages in one chunk, and in any chunking (property)', () => {
    const stream = Buffer.concat([register(1), register(2, 'abc'), Buffer.from('\r\n'), register(3, 'ü')]);
    const f = new StreamFramer(LIMITS);
    expect(messages(f.push(stream)).map((m) => m.toString())).toEqual([
      register(1).toString(),
      register(2, 'abc').toString(),
      register(3, 'ü').toString(),
    ]);
    fc.assert(
      fc.property(fc.array(fc.nat(stream.length), { maxLength: 12 }), (cuts) => {
        const points = [...new Set([0, ...cuts, stream.length])].sort((a, b) => a - b);
        const g = new StreamFramer(LIMITS);
        const evs: FrameEvent[] = [];
        for (let i = 0; i + 1 < points.length; i++) evs.push(...g.push(stream.subarray(points[i], points[i + 1])));
        expect(messages(evs).length).toBe(3);
        expect(types(evs)).toEqual(['message', 'message', 'message']);
        for (const m of messages(evs)) expect(parseMessage(m, DEFAULT_PARSE_LIMITS).ok).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('messages handed out are copies, safe after more input', () => {
    const f = new StreamFramer(LIMITS);
    const [first] = messages(f.push(register(1)));
    for (let i = 2; i < 50; i++) f.push(register(i, 'y'.repeat(i * 10)));
    expect(first?.toString()).toBe(register(1).toString());
  });

  it('CRLFCRLF is a keep-alive ping; a lone CRLF (pong) is ignored', () => {
    const f = new StreamFramer(LIMITS);
    expect(types(f.push(Buffer.from('\r\n\r\n')))).toEqual(['keepalive']);
    expect(types(f.push(Buffer.from('\r\n')))).toEqual([]);
    expect(types(f.push(register(1)))).toEqual(['message']);
    expect(types(f.push(Buffer.from('\r\n\r\n\r\n\r\n')))).toEqual(['keepalive', 'keepalive']);
    // a ping split in two
    expect(types(f.push(Buffer.from('\r\n')))).toEqual([]);
    expect(types(f.push(Buffer.from('\r\n')))).toEqual(['keepalive']);
    expect(f.buffered).toBe(0);
  });

  it('missing or invalid Content-Length on a stream -> error', () => {
    const noCl = Buffer.from(register(1).toString().replace('Content-Length: 0\r\n', ''));
    for (const [data, reason] of [
      [noCl, 'Missing Content-Length on stream'],
      [
        Buffer.from(register(1).toString().replace('Content-Length: 0', 'Content-Length: -1')),
        'Invalid Content-Length on stream',
      ],
      [
        Buffer.from(register(1).toString().replace('Content-Length: 0', 'Content-Length: abc')),
        'Invalid Content-Length on stream',
      ],
      [
        Buffer.from(
          register(1)
            .toString()
            .replace('Content-Length: 0', `Content-Length: ${2 ** 53}`),
        ),
        'Invalid Content-Length on stream',
      ],
      [
        Buffer.from(register(1).toString().replace('Content-Length: 0', 'Content-Length: 0\r\nl: 0')),
        'Multiple Content-Length on stream',
      ],
    ] as const) {
      const f = new StreamFramer(LIMITS);
      expect(f.push(data)).toEqual([{ type: 'error', reason }]);
      expect(f.push(register(2))).toEqual([{ type: 'error', reason }]); // dead after an error
    }
  });

  it('compact and folded Content-Length', () => {
    const f = new StreamFramer(LIMITS);
    const msg = Buffer.from(register(1, 'abc').toString().replace('Content-Length: 3', 'l:\r\n 3'));
    expect(messages(f.push(msg)).length).toBe(1);
  });

  it('a message larger than maxMessageBytes -> error, without waiting for its body', () => {
    const f = new StreamFramer({ maxMessageBytes: 1000, maxBufferedBytes: 100000 });
    const head = register(1).toString().replace('Content-Length: 0', 'Content-Length: 5000');
    expect(f.push(Buffer.from(head))).toEqual([{ type: 'error', reason: 'Message too large' }]);
  });

  it('a header section larger than the limit -> error, even before its end arrives', () => {
    const f = new StreamFramer({ maxMessageBytes: 65535, maxBufferedBytes: 1 << 21, maxHeaderBytes: 4096 });
    const evs = f.push(Buffer.from('REGISTER sip:x SIP/2.0\r\nX-Big: ' + 'a'.repeat(1 << 20)));
    expect(evs).toEqual([{ type: 'error', reason: 'Header section too large' }]);
  });

  it('too much buffered data -> error', () => {
    const f = new StreamFramer({ maxMessageBytes: 65535, maxBufferedBytes: 1000 });
    const evs = f.push(
      Buffer.from(register(1).toString().replace('Content-Length: 0', 'Content-Length: 5000') + 'z'.repeat(2000)),
    );
    expect(evs).toEqual([{ type: 'error', reason: 'Too much buffered data' }]);
  });

  it('linear in the input when a big header section trickles in', () => {
    const big = Buffer.from(`REGISTER sip:x SIP/2.0\r\nX: ${'a'.repeat(60000)}\r\nContent-Length: 0\r\n\r\n`);
    const f = new StreamFramer({ maxMessageBytes: 65535, maxBufferedBytes: 1 << 20 });
    const t0 = Date.now();
    const evs: FrameEvent[] = [];
    for (let i = 0; i < big.length; i += 7) evs.push(...f.push(big.subarray(i, i + 7)));
    expect(types(evs)).toEqual(['message']);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('never throws on random chunks (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (chunks) => {
        const f = new StreamFramer({ maxMessageBytes: 2000, maxBufferedBytes: 4000 });
        for (const c of chunks)
          for (const e of f.push(Buffer.from(c))) expect(['message', 'keepalive', 'error']).toContain(e.type);
      }),
      { numRuns: 1000 },
    );
  });
});
