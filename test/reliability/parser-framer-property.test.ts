/**
 * Property tests of the two pieces every network byte goes through: src/sip/parse.ts (one message) and
 * src/transport/framer.ts (a TCP/TLS byte stream cut into messages, RFC 3261 18.3). Neither may throw on any input;
 * well-formed messages round-trip; framing does not depend on how the stream is chunked; memory stays bounded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMessage, DEFAULT_PARSE_LIMITS } from '../../src/sip/parse.js';
import { StreamFramer, type FrameEvent } from '../../src/transport/framer.js';

const token = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/);
const headerValue = fc.stringMatching(/^[!-~][ -~]{0,40}$/).filter((s) => !s.endsWith(' '));

/** A well-formed request: method, URI, the mandatory headers in a random order, extra headers, a body. */
const request = fc
  .record({
    method: fc.constantFrom('REGISTER', 'OPTIONS', 'INVITE', 'BYE', 'FOO'),
    user: token,
    host: fc.constantFrom('example.com', '192.0.2.1', 'sip.example.org'),
    cseq: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    callId: token,
    extra: fc.array(fc.tuple(fc.stringMatching(/^X-[A-Za-z0-9-]{1,10}$/), headerValue), { maxLength: 6 }),
    body: fc.stringMatching(/^[ -~]{0,200}$/),
    order: fc.integer({ min: 0, max: 1000 }),
  })
  .map((r) => {
    const headers: Array<[string, string]> = [
      ['Via', `SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK${r.callId}`],
      ['Max-Forwards', '70'],
      ['From', `<sip:${r.user}@${r.host}>;tag=${r.callId}`],
      ['To', `<sip:${r.user}@${r.host}>`],
      ['Call-ID', r.callId],
      ['CSeq', `${r.cseq} ${r.method}`],
      ...r.extra,
    ];
    // Rotate: a different header order, same content.
    const k = r.order % headers.length;
    const ordered = [...headers.slice(k), ...headers.slice(0, k)];
    ordered.push(['Content-Length', String(Buffer.byteLength(r.body))]);
    const text = `${r.method} sip:${r.host} SIP/2.0\r\n${ordered.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n${r.body}`;
    return { ...r, text, bytes: Buffer.from(text, 'latin1') };
  });

describe('parseMessage (property)', () => {
  it('never throws on arbitrary bytes, and says why when it refuses', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
        const r = parseMessage(Buffer.from(bytes), DEFAULT_PARSE_LIMITS);
        if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on a valid request with bytes flipped, inserted or cut', () => {
    fc.assert(
      fc.property(
        request,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
        (req, flips, cut) => {
          const b = Buffer.from(req.bytes);
          for (const [at, v] of flips) b[at % b.length] = v;
          parseMessage(b, DEFAULT_PARSE_LIMITS);
          parseMessage(b.subarray(0, cut % (b.length + 1)), DEFAULT_PARSE_LIMITS);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('parses every well-formed request back to what was written', () => {
    fc.assert(
      fc.property(request, (req) => {
        const r = parseMessage(req.bytes, DEFAULT_PARSE_LIMITS);
        expect(r.ok).toBe(true);
        if (!r.ok || r.message.kind !== 'request') return;
        expect(r.message.method).toBe(req.method);
        expect(r.message.uri).toBe(`sip:${req.host}`);
        expect(r.message.headers.get('call-id')).toEqual([req.callId]);
        expect(r.message.headers.get('cseq')).toEqual([`${req.cseq} ${req.method}`]);
        for (const [n, v] of req.extra) expect(r.message.headers.get(n.toLowerCase())).toContain(v);
        expect(r.message.body.toString('latin1')).toBe(req.body);
      }),
      { numRuns: 500 },
    );
  });
});

const LIMITS = { maxMessageBytes: 8192, maxBufferedBytes: 16384 };

function feed(framer: StreamFramer, stream: Buffer, cuts: number[]): FrameEvent[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const events: FrameEvent[] = [];
  let from = 0;
  for (const p of [...points, stream.length]) {
    if (p > from) events.push(...framer.push(stream.subarray(from, p)));
    from = Math.max(from, p);
  }
  return events;
}

describe('StreamFramer (property)', () => {
  it('cuts the same messages out of a stream however it is chunked, keep-alives included', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            request.map((r) => r.bytes),
            fc.constant(Buffer.from('\r\n\r\n')),
          ),
          { minLength: 1, maxLength: 6 },
        ),
        fc.array(fc.nat(), { maxLength: 20 }),
        (parts, cuts) => {
          const stream = Buffer.concat(parts);
          const events = feed(new StreamFramer(LIMITS), stream, cuts);
          const expected = parts.map((p) => (p.toString('latin1') === '\r\n\r\n' ? 'keepalive' : p.toString('latin1')));
          expect(events.map((e) => (e.type === 'message' ? e.data.toString('latin1') : e.type))).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary chunks, keeps its buffer bounded, and stays failed after an error', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 4000 }), { maxLength: 12 }), (chunks) => {
        const framer = new StreamFramer(LIMITS);
        let failed = false;
        for (const c of chunks) {
          const events = framer.push(Buffer.from(c));
          if (failed && c.length > 0) expect(events.map((e) => e.type)).toEqual(['error']);
          if (events.some((e) => e.type === 'error')) failed = true;
          expect(framer.buffered).toBeLessThanOrEqual(LIMITS.maxBufferedBytes + 4000);
          for (const e of events)
            if (e.type === 'message') expect(e.data.length).toBeLessThanOrEqual(LIMITS.maxMessageBytes);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses endless headers once they pass the limit', () => {
    const framer = new StreamFramer(LIMITS);
    let events: FrameEvent[] = framer.push(Buffer.from('REGISTER sip:example.com SIP/2.0\r\n'));
    for (let i = 0; i < 1000 && !events.some((e) => e.type === 'error'); i++)
      events = framer.push(Buffer.from(`X-H${i}: ${'a'.repeat(40)}\r\n`));
    expect(events.some((e) => e.type === 'error')).toBe(true);
    expect(framer.buffered).toBe(0);
  });
});
