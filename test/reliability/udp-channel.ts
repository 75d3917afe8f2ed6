/**
 * One UDP socket shared by many concurrent test phones: responses are matched to requests by the Via branch, and a
 * request is retransmitted at T1 doubling (RFC 3261 17.1.1.2) until its final response or the timeout, like a phone.
 */
import dgram from 'node:dgram';
import { parseResponse, type TestResponse } from '../helpers/sip-client.js';
import type { Channel } from '../helpers/phone.js';

export class UdpChannel implements Channel {
  private readonly pending = new Map<string, { done: (r: TestResponse) => void; abort: () => void }>();
  private closed = false;
  private constructor(
    private readonly socket: dgram.Socket,
    private serverPort: number,
    private readonly timeoutMs: number,
    readonly address: string,
  ) {
    socket.on('message', (m) => {
      let r: TestResponse;
      try {
        r = parseResponse(m.toString('latin1'));
      } catch {
        return;
      }
      const branch = /branch=([^;,\s]+)/.exec(r.headers.get('via')?.[0] ?? '')?.[1];
      if (branch !== undefined && r.status >= 200) this.pending.get(branch)?.done(r);
    });
  }

  static async open(serverPort: number, opts: { address?: string; timeoutMs?: number } = {}): Promise<UdpChannel> {
    const address = opts.address ?? '127.0.0.1';
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, address, () => r()));
    return new UdpChannel(socket, serverPort, opts.timeoutMs ?? 4_000, address);
  }

  get port(): number {
    return this.socket.address().port;
  }
  get via(): string {
    return `UDP ${this.address}:${this.port}`;
  }
  get contactHost(): string {
    return `${this.address}:${this.port}`;
  }

  /** Points the channel at another server port (a restarted server). */
  retarget(serverPort: number): void {
    this.serverPort = serverPort;
  }

  request(text: string): Promise<TestResponse> {
    const branch = /branch=([^;,\s]+)/.exec(text)?.[1];
    if (branch === undefined) return Promise.reject(new Error('request without a Via branch'));
    if (this.closed) return Promise.reject(new Error('channel closed'));
    const data = Buffer.from(text, 'latin1');
    return new Promise((resolve, reject) => {
      let interval = 500;
      let retx: NodeJS.Timeout | undefined;
      const send = (): void => {
        if (this.closed) return;
        this.socket.send(data, this.serverPort, '127.0.0.1');
        retx = setTimeout(send, interval);
        interval = Math.min(interval * 2, 4_000);
      };
      const finish = (): void => {
        clearTimeout(retx);
        clearTimeout(deadline);
        this.pending.delete(branch);
      };
      const deadline = setTimeout(() => {
        finish();
        reject(new Error(`no final response within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(branch, {
        done: (r) => {
          finish();
          resolve(r);
        },
        abort: () => {
          finish();
          reject(new Error('channel closed'));
        },
      });
      send();
    });
  }

  close(): void {
    this.closed = true;
    for (const p of [...this.pending.values()]) p.abort();
    this.socket.close();
  }
}
