/**
 * The hand-written Authorization scanner (sip/headers.ts) against the parser it replaced: drachtio-sip's
 * parseAuthHeader, wrapped as sipreg wrapped it (whole value consumed, one credential, names re-read for repeats,
 * quotes removed). Random header values built from the grammar's pieces and from junk must get the same answer from
 * both, so what phones sent that passed before passes now, and what was refused still is.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAuthorization, splitList, unquote } from '../../src/sip/headers.js';

type Cursor = { s: string; i: number };
const drachtio = (
  createRequire(import.meta.url)('drachtio-sip/lib/parser.js') as {
    getParser(n: string): (d: Cursor) => unknown;
  }
).getParser('authorization');

/** The former wrapper, kept here as the oracle. */
function former(value: string): { scheme: string; params: Record<string, string> } | null {
  const v = value.trim();
  const head = /^([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+(?=\S)/.exec(v);
  if (head === null || head[1] === undefined) return null;
  const d: Cursor = { s: v, i: 0 };
  let r: unknown;
  try {
    r = drachtio(d);
  } catch {
    return null;
  }
  if (v.slice(d.i).trim().length !== 0) return null;
  if (!Array.isArray(r) || r.length !== 1) return null;
  const raw = r[0] as Record<string, unknown>;
  const seen = new Set<string>();
  for (const part of splitList(v.slice(head[0].length))) {
    const eq = part.indexOf('=');
    const key = (eq === -1 ? '' : part.slice(0, eq).trim()).toLowerCase();
    if (key.length === 0 || seen.has(key) || ['__proto__', 'constructor', 'prototype'].includes(key)) return null;
    seen.add(key);
  }
  const params: Record<string, string> = {};
  for (const [k, val] of Object.entries(raw)) {
    if (k === 'scheme') continue;
    if (typeof val !== 'string') return null;
    params[k.toLowerCase()] = unquote(val);
  }
  if (Object.keys(params).length !== seen.size) return null;
  return { scheme: head[1], params };
}

const plain = (x: ReturnType<typeof parseAuthorization>) =>
  x === null ? null : { scheme: x.scheme, params: { ...x.params } };

const name = fc.constantFrom(
  'username',
  'realm',
  'nonce',
  'uri',
  'response',
  'qop',
  'nc',
  'cnonce',
  'opaque',
  'Algorithm',
  'x-y',
  'NC',
  '',
);
const value = fc.oneof(
  fc.constantFrom(
    'auth',
    'MD5',
    '00000001',
    'sip:bench.test',
    'abc==',
    '""',
    '"a,b"',
    '"x\\"y"',
    '"unterminated',
    'a"b',
    'a b',
  ),
  fc.stringMatching(/^[A-Za-z0-9:@=.~-]{1,12}$/),
  fc.stringMatching(/^"[A-Za-z0-9 ,=:@]{0,12}"$/),
);
const ws = fc.constantFrom('', ' ', '  ', '\t');
const param = fc.tuple(name, ws, ws, value).map(([n, a, b, v]) => `${n}${a}=${b}${v}`);
const sep = fc.constantFrom(',', ', ', ' ,', ' , ', ',,', ' ', ';');
const header = fc
  .tuple(
    fc.constantFrom('Digest', 'digest', 'Basic', 'Digest\t', ''),
    fc.array(fc.tuple(param, sep), { maxLength: 6 }),
    fc.constantFrom('', ' ', ',', ', Digest a=b', ' junk'),
  )
  .map(
    ([scheme, parts, tail]) =>
      `${scheme} ${parts.map(([p, s], i) => (i === parts.length - 1 ? p : p + s)).join('')}${tail}`,
  );

describe('Authorization scanner', () => {
  it('answers as the wrapped drachtio parser did, on 20,000 random values', () => {
    fc.assert(
      fc.property(header, (h) => {
        expect(plain(parseAuthorization(h))).toEqual(former(h));
      }),
      { numRuns: 20_000 },
    );
  });

  it('reads a real phone answer, and refuses repeats, junk and two credentials', () => {
    const ok = parseAuthorization(
      'Digest username="1001", realm="pbx.example.com", nonce="abc==", uri="sip:pbx.example.com", response="0123", algorithm=MD5, qop=auth, nc=00000001, cnonce="x\\"y"',
    );
    expect(ok?.params).toMatchObject({ username: '1001', nc: '00000001', cnonce: 'x"y', algorithm: 'MD5' });
    for (const bad of [
      'Digest',
      'Digest a=1, A=2',
      'Digest a=1,',
      'Digest a=1 b=2',
      'Digest a=1, Digest b=2',
      'Digest __proto__=1',
    ])
      expect(parseAuthorization(bad), bad).toBeNull();
  });
});
