/**
 * SIP message mutator for the fuzz script: well-formed seed messages, and mutations that each hit one class of
 * parser and framer hazard (byte flips, truncation, duplicated and deleted headers, huge values, invalid UTF-8, NUL
 * bytes, random Content-Length, broken line ends, header floods, random bytes). Seeded PRNG: a run is reproducible.
 */

/** mulberry32: small, fast, good enough for fuzzing. @param {number} seed */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** integer in [0, n) @param {number} n */
    int: (n) => Math.floor(next() * n),
    /** @template T @param {readonly T[]} xs @returns {T} */
    pick: (xs) => /** @type {T} */ (xs[Math.floor(next() * xs.length)]),
  };
}

/** @typedef {ReturnType<typeof prng>} Rng */

/**
 * Seed messages, as header-line arrays so structural mutations can work on lines.
 * @param {Rng} r
 * @param {{ host: string, port: number, transport: 'UDP' | 'TCP', domain: string, user: string }} o
 * @returns {{ start: string, headers: string[], body: string }}
 */
export function seed(r, o) {
  const branch = `z9hG4bK${r.int(1e9).toString(36)}${r.int(1e9).toString(36)}`;
  const tag = r.int(1e9).toString(36);
  const callId = `${r.int(1e12).toString(36)}@fuzz`;
  const via = `Via: SIP/2.0/${o.transport} ${o.host}:${o.port};branch=${branch};rport`;
  const from = `From: <sip:${o.user}@${o.domain}>;tag=${tag}`;
  const to = `To: <sip:${o.user}@${o.domain}>`;
  const kind = r.int(6);
  if (kind === 0 || kind === 1 || kind === 5) {
    const headers = [via, 'Max-Forwards: 70', from, to, `Call-ID: ${callId}`, `CSeq: ${1 + r.int(1000)} REGISTER`];
    headers.push(`Contact: <sip:${o.user}@${o.host}:${o.port}>;expires=${r.pick(['0', '60', '3600', '99999'])}`);
    if (kind === 1) {
      headers.push(
        `Authorization: Digest username="${o.user}", realm="${o.domain}", nonce="AAAAAZNu8xQ0c2lwcmVnZnV6enp6enp6enp6enp6enp6eno", ` +
          `uri="sip:${o.domain}", response="${'0123456789abcdef'.repeat(4)}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="abc", opaque="x"`,
      );
    }
    if (kind === 5) {
      headers.push('Supported: path, outbound', 'Path: <sip:edge.example.net;lr>');
      headers.push(
        `Contact: <sip:${o.user}@192.0.2.1:5060;transport=tcp>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>";reg-id=1`,
      );
    }
    headers.push('Expires: 600', 'User-Agent: fuzz/1.0', 'Content-Length: 0');
    return { start: `REGISTER sip:${o.domain} SIP/2.0`, headers, body: '' };
  }
  if (kind === 2) {
    return {
      start: `OPTIONS sip:${o.domain} SIP/2.0`,
      headers: [
        via,
        'Max-Forwards: 70',
        from,
        to,
        `Call-ID: ${callId}`,
        'CSeq: 1 OPTIONS',
        'Accept: application/sdp',
        'Content-Length: 0',
      ],
      body: '',
    };
  }
  if (kind === 3) {
    const body = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
    return {
      start: `INVITE sip:bob@${o.domain} SIP/2.0`,
      headers: [
        via,
        'Max-Forwards: 70',
        from,
        `To: <sip:bob@${o.domain}>`,
        `Call-ID: ${callId}`,
        'CSeq: 1 INVITE',
        `Contact: <sip:${o.user}@${o.host}:${o.port}>`,
        'Content-Type: application/sdp',
        `Content-Length: ${body.length}`,
      ],
      body,
    };
  }
  return {
    start: 'SIP/2.0 200 OK',
    headers: [via, from, `${to};tag=x`, `Call-ID: ${callId}`, 'CSeq: 1 REGISTER', 'Content-Length: 0'],
    body: '',
  };
}

/** @param {{ start: string, headers: string[], body: string }} m */
export function render(m) {
  return Buffer.from(`${m.start}\r\n${m.headers.join('\r\n')}\r\n\r\n${m.body}`, 'latin1');
}

const BAD_UTF8 = [[0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xf0, 0x28, 0x8c, 0x28], [0xc0, 0xaf], [0xfe, 0xfe, 0xff]];
const CONTENT_LENGTHS = ['-1', '99999999999999999999', 'abc', '', '1e3', '0x10', '5 5', '+7', '4294967296', ' 65536'];

/** Structural mutations (on lines); each returns a short name for the tally. */
const STRUCTURAL = {
  /** @param {Rng} r @param {{ start: string, headers: string[], body: string }} m */
  'dup-header': (r, m) => {
    const i = r.int(m.headers.length);
    const n = r.pick([2, 3, 10, 100, 400]);
    m.headers.splice(i, 0, ...Array.from({ length: n - 1 }, () => m.headers[i] ?? ''));
  },
  'delete-header': (r, m) => {
    for (let k = 1 + r.int(3); k > 0 && m.headers.length > 0; k--) m.headers.splice(r.int(m.headers.length), 1);
  },
  'huge-value': (r, m) => {
    const i = r.int(m.headers.length);
    m.headers[i] = `${m.headers[i] ?? 'X-Big:'}${'A'.repeat(r.pick([1_000, 9_000, 30_000, 60_000]))}`;
  },
  'content-length': (r, m) => {
    const v = r.next() < 0.5 ? r.pick(CONTENT_LENGTHS) : String(r.int(100_000));
    const i = m.headers.findIndex((h) => /^content-length:/i.test(h));
    if (i >= 0) m.headers[i] = `Content-Length: ${v}`;
    else m.headers.push(`Content-Length: ${v}`);
    if (r.next() < 0.3) m.body = 'x'.repeat(r.int(2_000));
  },
  'many-headers': (r, m) => {
    const n = r.pick([257, 600, 2_000]);
    for (let k = 0; k < n; k++) m.headers.push(`X-H${k}: ${k}`);
  },
  'start-line': (r, m) => {
    m.start = r.pick([
      'REGISTER  sip:example.com SIP/2.0',
      'REGISTER sip:example.com SIP/3.0',
      'REGISTER <sip:example.com> SIP/2.0',
      'register sip:example.com SIP/2.0',
      'REGISTER sip:example.com',
      'SIP/2.0 999999 Nope',
      'SIP/2.0 200',
      `${'R'.repeat(9_000)} sip:x SIP/2.0`,
      'REGISTER http://example.com SIP/2.0',
      '',
    ]);
  },
  folding: (r, m) => {
    const i = r.int(m.headers.length);
    m.headers.splice(i + 1, 0, r.pick([' folded', '\tfolded', ' ', ': no name', 'NoColon', '   : x']));
  },
};

/** Byte-level mutations (on the rendered buffer). */
const BYTEWISE = {
  /** @param {Rng} r @param {Buffer} b @returns {Buffer} */
  'byte-flip': (r, b) => {
    const out = Buffer.from(b);
    for (let k = 1 + r.int(8); k > 0 && out.length > 0; k--) out[r.int(out.length)] = r.int(256);
    return out;
  },
  truncate: (r, b) => b.subarray(0, r.int(b.length)),
  'invalid-utf8': (r, b) => insert(b, r.int(b.length + 1), Buffer.from(r.pick(BAD_UTF8))),
  'nul-bytes': (r, b) => {
    let out = b;
    for (let k = 1 + r.int(4); k > 0; k--) out = insert(out, r.int(out.length + 1), Buffer.from([0]));
    return out;
  },
  'line-ends': (r, b) => {
    const s = b.toString('latin1');
    const to = r.pick(['\n', '\r', '\r\r\n', '\n\r']);
    return Buffer.from(r.next() < 0.5 ? s.replaceAll('\r\n', to) : s.replace('\r\n', to), 'latin1');
  },
  'random-bytes': (r) => {
    const out = Buffer.alloc(1 + r.int(2_000));
    for (let i = 0; i < out.length; i++) out[i] = r.int(256);
    return out;
  },
};

/** @param {Buffer} b @param {number} at @param {Buffer} x */
function insert(b, at, x) {
  return Buffer.concat([b.subarray(0, at), x, b.subarray(at)]);
}

export const MUTATIONS = [...Object.keys(STRUCTURAL), ...Object.keys(BYTEWISE)];

/**
 * One fuzzed message: a seed with 1-3 mutations. `maxBytes` caps the size (a UDP datagram's limit).
 * @param {Rng} r
 * @param {Parameters<typeof seed>[1]} o
 * @param {number} maxBytes
 * @returns {{ data: Buffer, kinds: string[] }}
 */
export function fuzzMessage(r, o, maxBytes) {
  const m = seed(r, o);
  /** @type {string[]} */
  const kinds = [];
  const n = 1 + r.int(3);
  const structural = Object.entries(STRUCTURAL);
  const bytewise = Object.entries(BYTEWISE);
  /** @type {Array<[string, (r: Rng, b: Buffer) => Buffer]>} */
  const later = [];
  for (let k = 0; k < n; k++) {
    if (r.next() < 0.5) {
      const [name, f] = r.pick(structural);
      f(r, m);
      kinds.push(name);
    } else {
      const entry = r.pick(bytewise);
      later.push(entry);
      kinds.push(entry[0]);
    }
  }
  let data = render(m);
  for (const [, f] of later) data = f(r, data);
  if (data.length > maxBytes) data = data.subarray(0, maxBytes);
  return { data, kinds };
}
