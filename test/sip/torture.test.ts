/**
 * RFC 4475 torture messages (test/fixtures/torture, see docs/parser.md for provenance): what parseMessage and
 * validateRequest make of each. The table here is the one in docs/parser.md.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PARSE_LIMITS, parseMessage } from '../../src/sip/parse.js';
import { problemOf } from '../helpers/validation.js';
import { parseContacts, parseNameAddr, parseVias } from '../../src/sip/headers.js';
import { parseSipUri } from '../../src/sip/uri.js';
import type { SipMessage } from '../../src/sip/message.js';

const DIR = fileURLToPath(new URL('../fixtures/torture/', import.meta.url));
const load = (dir: 'valid' | 'invalid', name: string): Buffer => readFileSync(`${DIR}${dir}/${name}.dat`);

type Expected =
  | { stage: 'ok' } // parses; requests pass validateRequest
  | { stage: 'response'; status: number } // parses as a response (the server drops responses)
  | { stage: 'parse'; reason: string; isRequest: boolean }
  | { stage: 'validate'; status: number; reason: string };

const VALID: Record<string, Expected> = {
  wsinv: { stage: 'ok' },
  intmeth: { stage: 'ok' },
  esc01: { stage: 'ok' },
  escnull: { stage: 'ok' },
  esc02: { stage: 'ok' },
  lwsdisp: { stage: 'ok' },
  longreq: { stage: 'ok' },
  dblreq: { stage: 'ok' },
  semiuri: { stage: 'ok' },
  transports: { stage: 'ok' },
  mpart01: { stage: 'ok' },
  unreason: { stage: 'response', status: 200 },
  noreason: { stage: 'response', status: 100 },
  // 3.2 - 3.4: well formed; what they mean is decided above this layer
  badbranch: { stage: 'ok' },
  bcast: { stage: 'response', status: 200 },
  bext01: { stage: 'ok' },
  cparam01: { stage: 'ok' },
  cparam02: { stage: 'ok' },
  inv2543: { stage: 'ok' },
  invut: { stage: 'ok' },
  regaut01: { stage: 'ok' },
  regescrt: { stage: 'ok' },
  sdp01: { stage: 'ok' },
  unksm2: { stage: 'ok' },
  zeromf: { stage: 'ok' },
};

const INVALID: Record<string, Expected> = {
  badinv01: { stage: 'validate', status: 400, reason: 'Malformed Via' },
  clerr: { stage: 'parse', reason: 'Content-Length mismatch', isRequest: true },
  ncl: { stage: 'parse', reason: 'Invalid Content-Length', isRequest: true },
  scalar02: { stage: 'validate', status: 400, reason: 'Malformed CSeq' },
  scalarlg: { stage: 'response', status: 503 },
  quotbal: { stage: 'validate', status: 400, reason: 'Malformed To' },
  ltgtruri: { stage: 'parse', reason: 'Malformed Request-Line', isRequest: true },
  lwsruri: { stage: 'parse', reason: 'Malformed Request-Line', isRequest: true },
  lwsstart: { stage: 'parse', reason: 'Malformed Request-Line', isRequest: true },
  trws: { stage: 'parse', reason: 'Malformed Request-Line', isRequest: true },
  escruri: { stage: 'validate', status: 400, reason: 'Headers not allowed in Request-URI' },
  baddate: { stage: 'ok' }, // Date is never read by a registrar: documented in docs/parser.md
  regbadct: { stage: 'validate', status: 400, reason: 'Malformed Contact' },
  badaspec: { stage: 'validate', status: 400, reason: 'Malformed To' },
  baddn: { stage: 'validate', status: 400, reason: 'Malformed From' },
  badvers: { stage: 'validate', status: 505, reason: 'Version Not Supported' },
  mismatch01: { stage: 'validate', status: 400, reason: 'CSeq method mismatch' },
  mismatch02: { stage: 'validate', status: 400, reason: 'CSeq method mismatch' },
  bigcode: { stage: 'parse', reason: 'Malformed Status-Line', isRequest: false },
  insuf: { stage: 'validate', status: 400, reason: 'Missing From' },
  unkscm: { stage: 'validate', status: 416, reason: 'Unsupported URI Scheme' },
  novelsc: { stage: 'validate', status: 416, reason: 'Unsupported URI Scheme' },
  multi01: { stage: 'validate', status: 400, reason: 'Multiple From' },
  mcl01: { stage: 'parse', reason: 'Multiple Content-Length', isRequest: true },
};

function parsed(dir: 'valid' | 'invalid', name: string): SipMessage {
  const r = parseMessage(load(dir, name), DEFAULT_PARSE_LIMITS);
  if (!r.ok) throw new Error(`${name}: ${r.reason}`);
  return r.message;
}

function check(dir: 'valid' | 'invalid', name: string, exp: Expected): void {
  const r = parseMessage(load(dir, name), DEFAULT_PARSE_LIMITS);
  if (exp.stage === 'parse') {
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe(exp.reason);
    expect(r.isRequest).toBe(exp.isRequest);
    // whatever could be read is handed back, so a 400 can be routed
    expect(r.headers?.get('via')?.length ?? 0).toBeGreaterThan(0);
    return;
  }
  expect(r.ok, r.ok ? '' : r.reason).toBe(true);
  if (!r.ok) return;
  if (exp.stage === 'response') {
    expect(r.message.kind).toBe('response');
    if (r.message.kind === 'response') expect(r.message.status).toBe(exp.status);
    return;
  }
  expect(r.message.kind).toBe('request');
  if (r.message.kind !== 'request') return;
  const v = problemOf(r.message);
  if (exp.stage === 'ok') expect(v).toBeNull();
  else expect(v).toEqual({ status: exp.status, reason: exp.reason });
}

describe('RFC 4475 fixtures', () => {
  it('every fixture on disk has an expectation, and every expectation a fixture', () => {
    const names = (d: string) =>
      readdirSync(`${DIR}${d}`)
        .map((f) => f.replace(/\.dat$/, ''))
        .sort();
    expect(names('valid')).toEqual(Object.keys(VALID).sort());
    expect(names('invalid')).toEqual(Object.keys(INVALID).sort());
  });

  it('fixtures use CRLF line ends only', () => {
    for (const [dir, set] of [['valid', VALID] as const, ['invalid', INVALID] as const]) {
      for (const name of Object.keys(set)) {
        if (name === 'mpart01') continue; // its binary body part may hold any byte
        const text = load(dir, name).toString('latin1');
        expect(/[^\r]\n/.test(text), name).toBe(false);
      }
    }
  });

  for (const [name, exp] of Object.entries(VALID)) it(`valid/${name}: ${exp.stage}`, () => check('valid', name, exp));
  for (const [name, exp] of Object.entries(INVALID)) {
    it(`invalid/${name}: ${exp.stage}${'status' in exp ? ` ${exp.status}` : ''}`, () => check('invalid', name, exp));
  }
});

describe('RFC 4475 valid messages: the values a registrar reads', () => {
  it('wsinv: folding, compact forms, odd whitespace', () => {
    const m = parsed('valid', 'wsinv');
    expect(m.kind).toBe('request');
    expect(m.headers.get('to')).toEqual(['sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n']);
    expect(parseNameAddr(m.headers.get('to')?.[0] ?? '')?.params.tag).toBe('1918181833n');
    const from = parseNameAddr(m.headers.get('from')?.[0] ?? '');
    expect(from?.displayName).toBe('J Rosenberg \\"');
    expect(from?.params.tag).toBe('98asjd8');
    expect(m.headers.get('cseq')).toEqual(['0009 INVITE']);
    expect(m.headers.get('subject')).toEqual(['']);
    expect(m.headers.get('newfangledheader')).toEqual(['newfangled value continued newfangled value']);
    const vias = parseVias(m.headers.get('via') ?? []);
    expect(vias?.map((v) => [v.transport, v.host, v.params.branch])).toEqual([
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    const contacts = parseContacts(m.headers.get('contact') ?? []);
    expect(contacts).not.toBe('*');
    if (contacts === null || contacts === '*') throw new Error('contacts');
    expect(contacts[0]?.displayName).toBe('Quoted string ""');
    expect(contacts[0]?.q).toBe(0.33);
    expect(contacts[0]?.params.newparam).toBe('newvalue');
    expect(m.body.length).toBe(150);
  });

  it('intmeth: unusual characters in method, URI and header names', () => {
    const m = parsed('valid', 'intmeth');
    if (m.kind !== 'request') throw new Error('kind');
    expect(m.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    const uri = parseSipUri(m.uri);
    expect(uri?.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(uri?.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(uri?.host).toBe('example.com');
    expect(m.headers.get("extensionheader-!.%*+_`'~")).toEqual(['\ufeff大停電']);
    expect(parseNameAddr(m.headers.get('to')?.[0] ?? '')?.displayName).toBe('BEL:\x07 NUL:\x00 DEL:\x7f');
  });

  it('esc02: an escaped header name is not Contact', () => {
    const m = parsed('valid', 'esc02');
    expect(m.headers.get('contact')?.length).toBe(2);
    expect(m.headers.get('c%6fntact')).toEqual(['<sip:alias2@host2.example.com>']);
  });

  it('dblreq: only the first message of the datagram, body per Content-Length', () => {
    const m = parsed('valid', 'dblreq');
    if (m.kind !== 'request') throw new Error('kind');
    expect(m.method).toBe('REGISTER');
    expect(m.body.length).toBe(0);
    expect(m.headers.get('call-id')).toEqual(['dblreq.0ha0isndaksdj99sdfafnl3lk233412']);
  });

  it('semiuri: a ; in the user part', () => {
    const m = parsed('valid', 'semiuri');
    if (m.kind !== 'request') throw new Error('kind');
    expect(parseSipUri(m.uri)?.user).toBe('user;par=u%40example.net');
    expect(parseSipUri(m.uri)?.host).toBe('example.com');
  });

  it('unreason / noreason: UTF-8 and empty reason phrases', () => {
    const u = parsed('valid', 'unreason');
    if (u.kind !== 'response') throw new Error('kind');
    expect(u.reason).toBe('= 2**3 * 5**2 но сто девяносто девять - простое');
    const n = parsed('valid', 'noreason');
    if (n.kind !== 'response') throw new Error('kind');
    expect(n.reason).toBe('');
  });

  it('longreq: 34 Vias from mixed-case and compact names, in order', () => {
    const m = parsed('valid', 'longreq');
    const vias = parseVias(m.headers.get('via') ?? []);
    expect(vias?.length).toBe(34);
    expect(vias?.[0]?.host).toBe('sip33.example.com');
    expect(vias?.[33]?.params.received).toBe('192.0.2.5');
  });

  it('unksm2: passes validation, but no SIP AOR can be read from its To', () => {
    const m = parsed('valid', 'unksm2');
    const to = parseNameAddr(m.headers.get('to')?.[0] ?? '');
    expect(to?.uri).toBe('isbn:2983792873');
    expect(parseSipUri(to?.uri ?? '')).toBeNull();
  });
});
