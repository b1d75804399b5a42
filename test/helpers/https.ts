/**
 * Real HTTPS servers and clients for tests: the server asks for client certificates and lets the
 * handler see failed verifications (`rejectUnauthorized: false` by default); the client presents
 * one of the development certificates.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { SecureVersion } from 'node:tls';
import type http2 from 'node:http2';
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from './pki.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface StartHttpsServerOptions {
  /** Default `false`: failed client verification still reaches the handler. */
  readonly rejectUnauthorized?: boolean;
  /** Default `true`. */
  readonly requestCert?: boolean;
  readonly minVersion?: SecureVersion;
  readonly maxVersion?: SecureVersion;
  /** Default: {@link getTestPki}(). Its `ca` is trusted for clients, `server` is presented. */
  readonly pki?: DevCertificateSet;
  /** Merged last: overrides anything above (e.g. `ca`, `cert`, `key`). */
  readonly serverOptions?: https.ServerOptions;
}

export interface StartedHttpsServer {
  readonly server: https.Server;
  readonly port: number;
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  /** Closes the server and destroys every open socket (keep-alive included). */
  close(): Promise<void>;
}

/** Starts an `https.Server` on 127.0.0.1, port 0. */
export async function startHttpsServer(
  handler: RequestHandler,
  options: StartHttpsServerOptions = {},
): Promise<StartedHttpsServer> {
  const pki = options.pki ?? (await getTestPki());
  const server = https.createServer(
    {
      cert: pki.server.chainPem,
      key: pki.server.keyPem,
      ca: pki.ca.certPem,
      requestCert: options.requestCert ?? true,
      rejectUnauthorized: options.rejectUnauthorized ?? false,
      ...(options.minVersion ? { minVersion: options.minVersion } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      ...options.serverOptions,
    },
    handler,
  );
  // Track raw TCP sockets, so close() also ends connections whose handshake never finished.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  const port = address.port;
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    url: `https://127.0.0.1:${port}`,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

export interface HttpsRequestOptions {
  readonly port: number;
  /** Default `/`. */
  readonly path?: string;
  /** Default `GET`. */
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  /** The client certificate to present (its chain is sent); omit to present none. */
  readonly client?: DevCertificate;
  /** CA(s) that verify the server. Default: the test PKI's `ca`. */
  readonly ca?: string | readonly string[];
  /** Default: no agent (a fresh connection per request). */
  readonly agent?: https.Agent;
  readonly maxVersion?: SecureVersion;
  /** Request body. */
  readonly body?: string;
}

export interface HttpsResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One request to 127.0.0.1. Rejects with the socket error when the handshake or the request
 * fails (including a TLS 1.3 server closing the connection without a response).
 */
export async function httpsRequest(options: HttpsRequestOptions): Promise<HttpsResponse> {
  const ca = options.ca ?? (await getTestPki()).ca.certPem;
  return new Promise<HttpsResponse>((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: options.port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: ca as string | string[],
        servername: 'localhost',
        ...(options.client ? { cert: options.client.chainPem, key: options.client.keyPem } : {}),
        ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * A keep-alive agent with one socket, presenting `client` (none when omitted): consecutive
 * requests through {@link httpsRequest} reuse one TLS connection (httpsRequest supplies the CA).
 * Call `agent.destroy()` when done.
 */
export function keepAliveAgent(client?: DevCertificate): https.Agent {
  return new https.Agent({
    keepAlive: true,
    maxSockets: 1,
    ...(client ? { cert: client.chainPem, key: client.keyPem } : {}),
  });
}

/**
 * `http2.createSecureServer` options for an mTLS server with the dev PKI that also speaks HTTP/1.1
 * and lets failed client certificates through to the handler.
 */
export function http2MtlsServerOptions(pki: DevCertificateSet): http2.SecureServerOptions {
  return {
    cert: pki.server.chainPem,
    key: pki.server.keyPem,
    ca: pki.ca.certPem,
    requestCert: true,
    rejectUnauthorized: false,
    allowHTTP1: true,
  };
}
