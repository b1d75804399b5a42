/**
 * The Express app the proxy end-to-end tests put behind a real proxy: one app (morgan
 * `mtls-combined` + `mtlsIdentity()` trusting only 127.0.0.1), served over plain HTTP to the proxy
 * and over HTTPS to direct clients, which connect from 127.0.0.2 so their own TLS connection
 * decides. Each request's identity is recorded by its `?id=`.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import express from 'express';
import morgan from 'morgan';
import { mtlsIdentity, registerMorganTokens } from '../../../lib/index.js';
import type { MtlsIdentityOptions, PeerIdentity, ProxyFormatName, UntrustedProxyHeadersEvent } from '../../../lib/index.js';
import type { DevCertificate, DevCertificateSet } from '../../../lib/dev-certs/index.js';
import { startHttpsServer } from '../../helpers/https.js';

export interface Sent {
  readonly id: string;
  readonly status: number;
  readonly body: string;
  readonly identity: PeerIdentity | undefined;
}

/** A request as the app's upstream port received it from the proxy. */
export interface UpstreamRequest {
  readonly httpVersion: string;
  /** The proxy's source port: the same for two requests when the proxy kept the connection open. */
  readonly remotePort: number | undefined;
  readonly connection: string | undefined;
  readonly forwardedFor: string | undefined;
}

export interface ProxiedApp {
  /** Plain-HTTP port the proxy forwards to. */
  readonly upstreamPort: number;
  /** HTTPS port for direct clients. */
  readonly directPort: number;
  readonly logLines: readonly string[];
  readonly spoofs: readonly UntrustedProxyHeadersEvent[];
  /** What the upstream (plain-HTTP) server saw of each proxied request, by `?id=`. */
  readonly upstreamRequests: ReadonlyMap<string, UpstreamRequest>;
  /** One request from 127.0.0.2 over HTTPS (to the proxy or the direct port). */
  send(port: number, client: DevCertificate | undefined, path?: string, headers?: http.OutgoingHttpHeaders): Promise<Sent>;
  /** One request from 127.0.0.2 over plain HTTP straight to the upstream port. */
  sendPlain(headers: http.OutgoingHttpHeaders): Promise<Sent>;
  /** The access line of a request, once morgan wrote it. */
  logLineFor(id: string): Promise<string>;
  close(): Promise<void>;
}

export async function startProxiedApp(pki: DevCertificateSet, proxyFormat: ProxyFormatName): Promise<ProxiedApp> {
  const identities = new Map<string, PeerIdentity | undefined>();
  const logLines: string[] = [];
  const spoofs: UntrustedProxyHeadersEvent[] = [];
  let nextId = 0;
  registerMorganTokens(morgan);
  const proxyOptions: MtlsIdentityOptions = {
    proxy: {
      format: proxyFormat,
      // Only the proxy (127.0.0.1) may forward certificates; clients use 127.0.0.2.
      trustedProxies: ['127.0.0.1/32'],
      onUntrustedHeaders: (event) => void spoofs.push(event),
    },
  };
  const app = express();
  app.use(morgan('mtls-combined', { stream: { write: (line: string) => void logLines.push(line) } }));
  const record: express.RequestHandler = (req, res) => {
    const identity = res.locals.mtls as PeerIdentity | undefined;
    const id = req.query.id;
    assert(typeof id === 'string', `expected one ?id= in ${req.originalUrl}`);
    identities.set(id, identity);
    res.json({ verify: identity?.verify, forged: req.headers['x-ssl-client-cert'] ?? null });
  };
  app.get('/required', mtlsIdentity({ ...proxyOptions, require: true }), record);
  app.use(mtlsIdentity(proxyOptions));
  app.get('/', record);

  const upstream = http.createServer(app);
  const upstreamRequests = new Map<string, UpstreamRequest>();
  upstream.on('request', (req: http.IncomingMessage) => {
    const id = new URL(req.url ?? '/', 'http://upstream').searchParams.get('id');
    if (id === null) return;
    const forwardedFor = req.headers['x-forwarded-for'];
    upstreamRequests.set(id, {
      httpVersion: req.httpVersion,
      remotePort: req.socket.remotePort,
      connection: req.headers.connection,
      forwardedFor: Array.isArray(forwardedFor) ? forwardedFor.join(', ') : forwardedFor,
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const direct = await startHttpsServer(app, { pki });

  const collect = (id: string, resolve: (sent: Sent) => void) => (res: http.IncomingMessage) => {
    let body = '';
    res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    res.on('end', () => resolve({ id, status: res.statusCode ?? 0, body, identity: identities.get(id) }));
  };
  return {
    upstreamPort: (upstream.address() as net.AddressInfo).port,
    directPort: direct.port,
    logLines,
    spoofs,
    upstreamRequests,
    send(port, client, path = '/', headers = {}) {
      const id = String(++nextId);
      return new Promise((resolve, reject) => {
        https
          .request(
            {
              host: '127.0.0.1',
              localAddress: '127.0.0.2',
              port,
              path: `${path}?id=${id}`,
              // Host matches the SNI name: Caddy refuses a mismatch when client auth is on (421).
              headers: { host: `localhost:${port}`, ...headers },
              ca: pki.ca.certPem,
              servername: 'localhost',
              agent: false,
              ...(client ? { cert: client.chainPem, key: client.keyPem } : {}),
            },
            collect(id, resolve),
          )
          .on('error', reject)
          .end();
      });
    },
    sendPlain(headers) {
      const id = String(++nextId);
      return new Promise((resolve, reject) => {
        http
          .request(
            {
              host: '127.0.0.1',
              localAddress: '127.0.0.2',
              port: (upstream.address() as net.AddressInfo).port,
              path: `/?id=${id}`,
              headers,
              agent: false,
            },
            collect(id, resolve),
          )
          .on('error', reject)
          .end();
      });
    },
    async logLineFor(id) {
      for (let i = 0; i < 100; i++) {
        const line = logLines.find((l) => l.includes(`?id=${id} `));
        if (line !== undefined) return line;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`no access line for request ${id}`);
    },
    async close() {
      await direct.close();
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    },
  };
}

/** The identity without its `source`, to compare a proxied identity with a direct one. */
export function withoutSource(identity: PeerIdentity | undefined): Omit<PeerIdentity, 'source'> | undefined {
  if (identity === undefined) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- the rest pattern needs a name for the key it leaves out
  const { source: _source, ...rest } = identity;
  return rest;
}

/**
 * Sends every development client directly and through the proxy at `proxyPort` and asserts that
 * the proxied identity equals the direct one but for `source`, with the verdict Node gives.
 */
export async function assertEveryClientSameThroughProxy(
  app: ProxiedApp,
  pki: DevCertificateSet,
  proxyPort: number,
  format: ProxyFormatName,
): Promise<void> {
  const cases: [string, DevCertificate | undefined, string][] = [
    ['valid', pki.clients.valid, 'SUCCESS'],
    ['hostile', pki.clients.hostile, 'SUCCESS'],
    ['none', undefined, 'NONE'],
    ['untrusted', pki.clients.untrusted, 'FAILED:UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['selfSigned', pki.clients.selfSigned, 'FAILED:DEPTH_ZERO_SELF_SIGNED_CERT'],
    ['expired', pki.clients.expired, 'FAILED:CERT_HAS_EXPIRED'],
    ['notYetValid', pki.clients.notYetValid, 'FAILED:CERT_NOT_YET_VALID'],
    ['wrongEku', pki.clients.wrongEku, 'FAILED:INVALID_PURPOSE'],
  ];
  for (const [name, client, verify] of cases) {
    const viaTls = await app.send(app.directPort, client);
    const viaProxy = await app.send(proxyPort, client);
    assert.equal(viaTls.status, 200, name);
    assert.equal(viaProxy.status, 200, `${name}: ${viaProxy.body}`);
    assert.equal(viaTls.identity?.source, 'tls', name);
    assert.equal(viaProxy.identity?.source, format, name);
    assert.equal(viaProxy.identity?.verify, verify, name);
    assert.deepEqual(withoutSource(viaProxy.identity), withoutSource(viaTls.identity), name);
  }
}

/**
 * Two requests from different client connections through the proxy at `proxyPort` reach the app
 * over one kept-alive HTTP/1.1 connection, each with `X-Forwarded-For` naming the client
 * (127.0.0.2), as docs/proxies.md says.
 */
export async function assertKeepAliveAndForwardedFor(app: ProxiedApp, pki: DevCertificateSet, proxyPort: number): Promise<void> {
  const first = await app.send(proxyPort, pki.clients.valid);
  const second = await app.send(proxyPort, pki.clients.valid);
  const [a, b] = [app.upstreamRequests.get(first.id), app.upstreamRequests.get(second.id)];
  assert.equal(a?.httpVersion, '1.1');
  assert.equal(b?.httpVersion, '1.1');
  assert.notEqual(a?.connection, 'close');
  assert.equal(a?.forwardedFor, '127.0.0.2');
  assert.equal(b?.forwardedFor, '127.0.0.2');
  assert.equal(b?.remotePort, a?.remotePort, 'the proxy reused its connection to the app');
}
