/**
 * A browser-like SIP over WebSocket client (RFC 7118) for tests, on the `ws` package: one connection, requests matched
 * to responses by Via branch, `.invalid` Via and Contact hosts as JsSIP and SIP.js send them.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { Channel } from './phone.js';
import { parseResponse, type TestResponse } from './sip-client.js';

export class WsChannel implements Channel {
  readonly host = `${randomBytes(6).toString('hex')}.invalid`;
  private readonly pending = new Map<string, (r: TestResponse) => void>();
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    readonly secure: boolean,
  ) {
    ws.on('message', (data: Buffer) => {
      let r: TestResponse;
      try {
        r = parseResponse(data.toString('utf8'));
      } catch {
        return;
      }
      const branch = /branch=([^;,\s]+)/.exec(r.headers.get('via')?.[0] ?? '')?.[1];
      if (branch !== undefined && r.status >= 200) this.pending.get(branch)?.(r);
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
    );
  }

  static open(url: string, opts: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<WsChannel> {
    const { protocols = ['sip'], ...rest } = opts;
    const ws = new WebSocket(url, protocols, { rejectUnauthorized: false, ...rest });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new WsChannel(ws, url.startsWith('wss:'))));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  get via(): string {
    return `${this.secure ? 'WSS' : 'WS'} ${this.host}`;
  }
  get contactHost(): string {
    return `${this.host};transport=${this.secure ? 'wss' : 'ws'}`;
  }

  request(text: string, timeoutMs = 3000): Promise<TestResponse> {
    const branch = /branch=([^;,\s]+)/.exec(text)?.[1] ?? '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(branch);
        reject(new Error('no response over WebSocket'));
      }, timeoutMs);
      this.pending.set(branch, (r) => {
        clearTimeout(timer);
        this.pending.delete(branch);
        resolve(r);
      });
      this.ws.send(text);
    });
  }

  close(): void {
    this.ws.close();
  }
}
