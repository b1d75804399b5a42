/**
 * A real `node:http` server running `mtlsIdentity()` and a client that writes raw HTTP/1.1 bytes
 * on a TCP socket, so repeated lines, exact header names, chunked bodies and trailers reach the
 * server exactly as sent (the way a proxy on a trusted address would send them).
 */
import http from 'node:http';
import net from 'node:net';
import { mtlsIdentity, type MtlsIdentityOptions } from '../../lib/middleware.js';
import { getPeerIdentity } from '../../lib/get-peer-identity.js';

/** What the handler saw: the identity (certificate reduced to its loggable fields) and headers. */
export interface SeenIdentity {
  readonly verified: boolean;
  readonly verify: string;
  readonly reason?: string;
  readonly source: string;
  readonly subject?: string;
  readonly issuer?: string;
  readonly fingerprint256?: string;
  readonly uri?: readonly string[];
}

export interface RawResponse {
  readonly status: number;
  /** The JSON body: the identity for a request that passed, the rejection for one that did not. */
  readonly body: Record<string, unknown>;
}

export interface MiddlewareServer {
  readonly port: number;
  /** Trailers and headers the app saw on the last request, after reading the whole body. */
  readonly last: { headers: http.IncomingHttpHeaders; trailers: NodeJS.Dict<string>; rawTrailers: string[] } | undefined;
  /**
   * Sends one request with `headerLines` (`Name: value`) from `localAddress`. `chunks` makes it a
   * chunked request; `trailerLines` are sent after the last chunk.
   */
  send(headerLines: readonly string[], options?: { localAddress?: string; chunks?: readonly string[]; trailerLines?: readonly string[] }): Promise<RawResponse>;
  close(): Promise<void>;
}

function summary(req: http.IncomingMessage): SeenIdentity | undefined {
  const identity = getPeerIdentity(req);
  if (identity === undefined) return undefined;
  const { certificate, ...rest } = identity;
  return {
    ...rest,
    ...(certificate === undefined
      ? {}
      : { subject: certificate.subject, issuer: certificate.issuer, fingerprint256: certificate.fingerprint256, uri: certificate.san.uri }),
  };
}

/** Starts the server on 127.0.0.1, port 0; the app reads the whole body before answering. */
export async function startMiddlewareServer(options: MtlsIdentityOptions): Promise<MiddlewareServer> {
  const middleware = mtlsIdentity(options);
  let last: MiddlewareServer['last'];
  const server = http.createServer((req, res) => {
    middleware(req, res, () => {
      req.resume();
      req.on('end', () => {
        last = { headers: { ...req.headers }, trailers: { ...req.trailers }, rawTrailers: [...req.rawTrailers] };
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(summary(req)));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    get last() {
      return last;
    },
    send(headerLines, { localAddress = '127.0.0.1', chunks, trailerLines } = {}) {
      return new Promise((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => {
          const head = ['POST / HTTP/1.1', 'Host: app', 'Connection: close', ...headerLines];
          if (chunks === undefined) {
            socket.end([...head, 'Content-Length: 0', '', ''].join('\r\n'));
            return;
          }
          const body = chunks.map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`).join('');
          socket.end(
            [...head, 'Transfer-Encoding: chunked', '', ''].join('\r\n') + body + ['0', ...(trailerLines ?? []), '', ''].join('\r\n'),
          );
        });
        let response = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (response += chunk));
        socket.on('error', reject);
        socket.on('close', () => {
          const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
          const text = response.slice(response.indexOf('\r\n\r\n') + 4);
          try {
            resolve({ status, body: JSON.parse(text) as Record<string, unknown> });
          } catch {
            reject(new Error(`not a JSON response: ${response.slice(0, 200)}`));
          }
        });
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
