/** UDP: one datagram is one message (RFC 3261 18.1.1); responses go to the address and port the routing rules pick. */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { plainAddress, type BoundListener, type MessageHandler } from './types.js';

export class UdpTransport {
  private readonly ipv6: boolean;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly listener: BoundListener,
  ) {
    this.ipv6 = socket.address().family === 'IPv6';
  }

  /**
   * ownSocket: bind a socket of this process's own with SO_REUSEPORT (Node >= 22.12), so each SIP worker reads its
   * own socket and the kernel spreads datagrams over them, instead of sharing the primary's one socket.
   */
  static listen(
    host: string,
    port: number,
    onMessage: MessageHandler,
    { maxDatagram, receiveBufferBytes }: { maxDatagram: number; receiveBufferBytes: number },
    ownSocket = false,
  ): Promise<UdpTransport> {
    const ipv6 = isIP(host) === 6;
    // ipv6Only false: binding :: also takes IPv4 (as ::ffff:a.b.c.d), as the contract says.
    const socket = dgram.createSocket({
      type: ipv6 ? 'udp6' : 'udp4',
      ipv6Only: false,
      ...(ownSocket ? { reusePort: true } : {}),
    } as dgram.SocketOptions);
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port, address: host, exclusive: ownSocket }, () => {
        socket.off('error', reject);
        // The receive queue is sized in time, not to hold everything: a request that waits in it longer than T1
        // (500 ms) has been retransmitted by its phone already, so a deep queue under overload is work done twice,
        // and more of it each second (sipp at 3,000/s: an 8 MB buffer, 6,500 datagrams or about a second here,
        // collapsed one run in three; 1 MB held every run). The kernel doubles the size asked for and caps it at
        // net.core.rmem_max; about 1,600 REGISTERs fit in the default, a quarter of a second at this machine's pace.
        // A flood beyond it is dropped, and phones retransmit (RFC 3261 17.1.2.2).
        trySize(() => socket.setRecvBufferSize(receiveBufferBytes));
        // Responses are never worth dropping here: as large a send buffer as the kernel gives.
        for (const size of [4 << 20, 1 << 20]) if (trySize(() => socket.setSendBufferSize(size))) break;
        const addr = socket.address();
        const localAddress = plainAddress(addr.address);
        socket.on('error', () => {
          // ICMP unreachable and the like surface here on some systems: never fatal for a server socket.
        });
        socket.on('message', (data, rinfo) => {
          if (data.length === 0 || data.length > maxDatagram) return;
          onMessage(data, {
            transport: 'udp',
            address: plainAddress(rinfo.address),
            port: rinfo.port,
            localAddress,
            localPort: addr.port,
          });
        });
        resolve(new UdpTransport(socket, { transport: 'udp', address: localAddress, port: addr.port }));
      });
    });
  }

  /** The receive buffer the kernel granted (Linux reports twice the size asked for, capped at rmem_max). */
  get receiveBufferBytes(): number {
    return this.socket.getRecvBufferSize();
  }

  send(address: string, port: number, data: Buffer): void {
    // A dual-stack socket reaches IPv4 peers through their mapped address.
    const to = this.ipv6 && isIP(address) === 4 ? `::ffff:${address}` : address;
    this.socket.send(data, port, to);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Socket buffer sizes are a wish: refused (a capped or odd kernel), the kernel's default stays. */
function trySize(set: () => void): boolean {
  try {
    set();
    return true;
  } catch {
    return false;
  }
}
