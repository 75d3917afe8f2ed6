/**
 * Cuts a SIP byte stream (TCP, TLS) into messages. Pure: no sockets.
 *
 * RFC 3261 18.3: on a stream Content-Length is mandatory and gives the body size. CRLFs between messages are ignored
 * (RFC 3261 7.5); a CRLFCRLF where a message would start is a keep-alive ping to be answered with CRLF, a lone CRLF
 * a pong (RFC 5626 4.4.1). Bytes are kept in one growable buffer (amortised O(1) per byte) and the search for the end
 * of the header section resumes where it stopped, so a message trickling in byte by byte costs O(n), not O(n^2).
 */

export interface FramerLimits {
  maxMessageBytes: number;
  maxBufferedBytes: number;
  /** Largest header section (start line to the blank line); defaults to maxMessageBytes. */
  maxHeaderBytes?: number;
}

export type FrameEvent = { type: 'message'; data: Buffer } | { type: 'keepalive' } | { type: 'error'; reason: string };

const CR = 0x0d;
const LF = 0x0a;
const HEADER_END = Buffer.from('\r\n\r\n');

export class StreamFramer {
  private readonly limits: Required<FramerLimits>;
  private store: Buffer = Buffer.alloc(0);
  private start = 0; // first unconsumed byte
  private end = 0; // one past the last buffered byte
  /** Where the header-end search resumes (absolute index into store), -1 when not inside a header section. */
  private scanFrom = -1;
  /** Once the header section is known: the whole message length; -1 while unknown. */
  private messageLength = -1;
  private failed: string | null = null;

  constructor(limits: FramerLimits) {
    this.limits = {
      maxMessageBytes: limits.maxMessageBytes,
      maxBufferedBytes: limits.maxBufferedBytes,
      maxHeaderBytes: Math.min(limits.maxHeaderBytes ?? limits.maxMessageBytes, limits.maxMessageBytes),
    };
  }

  get buffered(): number {
    return this.end - this.start;
  }

  push(chunk: Buffer): FrameEvent[] {
    if (this.failed !== null) return [{ type: 'error', reason: this.failed }];
    if (chunk.length === 0) return [];
    this.append(chunk);
    const events: FrameEvent[] = [];
    for (;;) {
      const ev = this.next();
      if (ev === null) break;
      events.push(ev);
      if (ev.type === 'error') return events;
    }
    if (this.buffered > this.limits.maxBufferedBytes) events.push(this.error('Too much buffered data'));
    return events;
  }

  private error(reason: string): FrameEvent {
    this.failed = reason;
    this.store = Buffer.alloc(0);
    this.start = this.end = 0;
    return { type: 'error', reason };
  }

  private append(chunk: Buffer): void {
    const need = this.buffered + chunk.length;
    if (this.end + chunk.length > this.store.length) {
      // Compact, growing geometrically: each byte is copied O(1) times on average.
      const next = need > this.store.length / 2 ? Buffer.allocUnsafe(Math.max(need * 2, 4096)) : this.store;
      this.store.copy(next, 0, this.start, this.end);
      if (this.scanFrom !== -1) this.scanFrom -= this.start;
      this.store = next;
      this.end -= this.start;
      this.start = 0;
    }
    chunk.copy(this.store, this.end);
    this.end += chunk.length;
  }

  /** One event from the buffered bytes, or null when more bytes are needed. */
  private next(): FrameEvent | null {
    const s = this.store;
    if (this.scanFrom === -1) {
      // Between messages: CRLFs.
      while (this.end - this.start >= 1 && s[this.start] === CR) {
        if (this.end - this.start < 2) return null; // a lone CR so far
        if (s[this.start + 1] !== LF) break; // not a CRLF: let the message parser judge it
        if (this.end - this.start < 3) return null; // CRLF, maybe the first half of a ping
        if (s[this.start + 2] !== CR) {
          this.start += 2; // a lone CRLF: a pong, or padding before a message (RFC 3261 7.5)
          continue;
        }
        if (this.end - this.start < 4) return null;
        if (s[this.start + 3] === LF) {
          this.start += 4;
          return { type: 'keepalive' };
        }
        this.start += 2;
      }
      if (this.start === this.end) return null;
      this.scanFrom = this.start;
      this.messageLength = -1;
    }

    if (this.messageLength === -1) {
      const from = Math.max(this.scanFrom, this.start);
      const at = s.subarray(0, this.end).indexOf(HEADER_END, from);
      if (at === -1) {
        if (this.end - this.start > this.limits.maxHeaderBytes) return this.error('Header section too large');
        this.scanFrom = Math.max(this.start, this.end - 3); // the terminator may straddle chunks
        return null;
      }
      const headerLength = at + 4 - this.start;
      if (headerLength > this.limits.maxHeaderBytes) return this.error('Header section too large');
      const cl = contentLength(s.toString('latin1', this.start, at + 2));
      if (typeof cl === 'string') return this.error(cl);
      if (headerLength + cl > this.limits.maxMessageBytes) return this.error('Message too large');
      this.messageLength = headerLength + cl;
    }

    if (this.end - this.start < this.messageLength) return null;
    const data = Buffer.from(s.subarray(this.start, this.start + this.messageLength)); // a copy: store is reused
    this.start += this.messageLength;
    this.scanFrom = -1;
    this.messageLength = -1;
    if (this.start === this.end) this.start = this.end = 0;
    return { type: 'message', data };
  }
}

/**
 * The Content-Length of a header section (ending with the CRLF of its last line), or an error reason. Folded lines
 * are unfolded; the compact form `l` counts; exactly one value, digits only.
 */
function contentLength(section: string): number | string {
  let found: string | null = null;
  const lines = section.split('\r\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name !== 'content-length' && name !== 'l') continue;
    let value = line.slice(colon + 1);
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1] ?? '')) value += ' ' + (lines[++i] ?? '');
    if (found !== null) return 'Multiple Content-Length on stream';
    found = value.trim();
  }
  if (found === null) return 'Missing Content-Length on stream';
  if (!/^[0-9]{1,10}$/.test(found)) return 'Invalid Content-Length on stream';
  return Number(found);
}
