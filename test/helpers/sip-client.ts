/**
 * A SIP test client over real sockets: UDP (IPv4/IPv6), TCP and TLS. It parses responses with its own few lines of
 * code, independent of the server's parser, so a parser bug cannot hide itself.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';

export interface TestResponse {
  status: number;
  reason: string;
  /** lower-case header name -> values, in order (compact forms expanded for the few the server could use). */
  headers: Map<string, string[]>;
  body: string;
  raw: string;
}

const COMPACT: Record<string, string> = {
  v: 'via',
  f: 'from',
  t: 'to',
  i: 'call-id',
  m: 'contact',
  l: 'content-length',
};

export function parseResponse(raw: string): TestResponse {
  const end = raw.indexOf('\r\n\r\n');
  const head = end >= 0 ? raw.slice(0, end) : raw;
  const lines = head.split('\r\n');
  const m = /^SIP\/2\.0 (\d{3}) (.*)$/.exec(lines[0] ?? '');
  if (!m) throw new Error(`not a SIP response: ${JSON.stringify(raw.slice(0, 80))}`);
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).trim().toLowerCase();
    const key = COMPACT[name] ?? name;
    headers.set(key, [...(headers.get(key) ?? []), line.slice(i + 1).trim()]);
  }
  return { status: Number(m[1]), reason: m[2] ?? '', headers, body: end >= 0 ? raw.slice(end + 4) : '', raw };
}

export function first(r: TestResponse, name: string): string | undefined {
  return r.headers.get(name)?.[0];
}

abstract class Queue {
  protected readonly received: string[] = [];
  private waiters: Array<(s: string) => void> = [];

  protected push(s: string): void {
    const w = this.waiters.shift();
    if (w) w(s);
    else this.received.push(s);
  }

  /** The next raw message, or a rejection after timeoutMs. */
  nextRaw(timeoutMs = 2000): Promise<string> {
    const ready = this.received.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no SIP message within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (s: string): void => {
        clearTimeout(timer);
        resolve(s);
      };
      this.waiters.push(waiter);
    });
  }

  async next(timeoutMs = 2000): Promise<TestResponse> {
    return parseResponse(await this.nextRaw(timeoutMs));
  }

  /** Resolves true when nothing arrives within ms. */
  async silent(ms = 300): Promise<boolean> {
    try {
      await this.nextRaw(ms);
      return false;
    } catch {
      return true;
    }
  }
}

export class UdpClient extends Queue {
  private constructor(private readonly socket: dgram.Socket) {
    super();
    socket.on('message', (m) => this.push(m.toString('latin1')));
  }

  /** `bind` picks the source address: any 127.0.0.x works on loopback, to act as several hosts. */
  static async open(family: 4 | 6 = 4, bind = family === 6 ? '::1' : '127.0.0.1'): Promise<UdpClient> {
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((r) => socket.bind(0, bind, () => r()));
    return new UdpClient(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: string | Buffer, port: number, host = '127.0.0.1'): void {
    this.socket.send(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, port, host);
  }

  async request(data: string | Buffer, port: number, host = '127.0.0.1', timeoutMs = 2000): Promise<TestResponse> {
    this.send(data, port, host);
    return this.next(timeoutMs);
  }

  close(): void {
    this.socket.close();
  }
}

/** TCP or TLS: frames responses by Content-Length, as RFC 3261 18.3 says. */
export class StreamClient extends Queue {
  private buffer = '';
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    super();
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.drain();
    });
    socket.on('error', () => {});
    this.closed = new Promise((r) => socket.once('close', () => r()));
  }

  private drain(): void {
    for (;;) {
      if (this.buffer.startsWith('\r\n') && !this.buffer.startsWith('\r\n\r\n')) {
        // A lone CRLF: the keep-alive pong (RFC 5626 4.4.1).
        this.buffer = this.buffer.slice(2);
        this.push('\r\n');
        continue;
      }
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const cl = /\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(this.buffer.slice(0, end + 2));
      const total = end + 4 + Number(cl?.[1] ?? 0);
      if (this.buffer.length < total) return;
      this.push(this.buffer.slice(0, total));
      this.buffer = this.buffer.slice(total);
    }
  }

  static connect(port: number, host = '127.0.0.1', useTls = false): Promise<StreamClient> {
    return new Promise((resolve, reject) => {
      const socket = useTls
        ? tls.connect({ port, host, rejectUnauthorized: false }, () => resolve(new StreamClient(socket)))
        : net.connect({ port, host }, () => resolve(new StreamClient(socket)));
      socket.once('error', reject);
    });
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  async request(data: string | Buffer, timeoutMs = 2000): Promise<TestResponse> {
    this.send(data);
    return this.next(timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}
