/**
 * A real nginx terminates mutual TLS on loopback in front of the Express app and forwards the
 * client certificate ($ssl_client_escaped_cert + $ssl_client_verify). The identity through nginx
 * must equal the identity of the same certificate on a direct TLS connection to the app.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import express from 'express';
import morgan from 'morgan';
import { mtlsIdentity, registerMorganTokens } from '../../lib/index.js';
import type { PeerIdentity, UntrustedProxyHeadersEvent } from '../../lib/index.js';
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs.js';
import { getTestPki } from '../helpers/pki.js';
import { startHttpsServer, type StartedHttpsServer } from '../helpers/https.js';
import { startProxy, type RunningProxy } from './proxy-configs/proxy-process.js';

let pki: DevCertificateSet;
let upstream: http.Server;
let direct: StartedHttpsServer;
let nginx: RunningProxy;
const identities = new Map<string, PeerIdentity | undefined>();
const logLines: string[] = [];
const spoofs: UntrustedProxyHeadersEvent[] = [];
let nextId = 0;

before(async () => {
  pki = await getTestPki();
  registerMorganTokens(morgan);
  const proxyOptions = {
    proxyFormat: 'nginx',
    // Only nginx (127.0.0.1) may forward certificates; clients use 127.0.0.2.
    trustedProxies: ['127.0.0.1/32'],
    onUntrustedProxyHeaders: (event: UntrustedProxyHeadersEvent) => spoofs.push(event),
  } as const;
  const app = express();
  app.use(morgan('mtls-combined', { stream: { write: (line: string) => void logLines.push(line) } }));
  const record: express.RequestHandler = (req, res) => {
    identities.set(String(req.query.id), res.locals.mtls as PeerIdentity | undefined);
    res.json({
      verify: (res.locals.mtls as PeerIdentity).verify,
      forged: req.headers['x-ssl-client-cert'] ?? null,
    });
  };
  app.get('/required', mtlsIdentity({ ...proxyOptions, require: true }), record);
  app.use(mtlsIdentity(proxyOptions));
  app.get('/', record);

  upstream = http.createServer(app);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  direct = await startHttpsServer(app);
  nginx = await startProxy({
    name: 'mtls-nginx',
    config: 'nginx.conf',
    files: {
      'server-cert.pem': pki.server.chainPem,
      'server-key.pem': pki.server.keyPem,
      'client-ca.pem': pki.ca.certPem,
    },
    values: { APP_PORT: (upstream.address() as net.AddressInfo).port },
    command: (dir, conf) => ['nginx', '-p', dir, '-c', conf, '-g', 'daemon off;'],
  });
});

after(async () => {
  await nginx?.stop();
  await direct?.close();
  if (upstream) {
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  }
});

interface Sent {
  readonly id: string;
  readonly status: number;
  readonly body: string;
  readonly identity: PeerIdentity | undefined;
}

/** One HTTPS request from 127.0.0.2 (an untrusted client address), with a client certificate. */
function send(port: number, client: DevCertificate | undefined, path = '/', headers: http.OutgoingHttpHeaders = {}): Promise<Sent> {
  const id = String(++nextId);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        localAddress: '127.0.0.2',
        port,
        path: `${path}?id=${id}`,
        headers,
        ca: pki.ca.certPem,
        servername: 'localhost',
        agent: false,
        ...(client ? { cert: client.chainPem, key: client.keyPem } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ id, status: res.statusCode ?? 0, body, identity: identities.get(id) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const withoutSource = (identity: PeerIdentity | undefined): Omit<PeerIdentity, 'source'> | undefined => {
  if (identity === undefined) return undefined;
  const { source: _source, ...rest } = identity;
  return rest;
};

async function logLineFor(id: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const line = logLines.find((l) => l.includes(`?id=${id} `));
    if (line !== undefined) return line;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no access line for request ${id}`);
}

test('every development client: the identity through nginx equals the direct TLS identity', async () => {
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
    const viaTls = await send(direct.port, client);
    const viaNginx = await send(nginx.port, client);
    assert.equal(viaTls.status, 200, name);
    assert.equal(viaNginx.status, 200, `${name}: ${viaNginx.body}`);
    assert.equal(viaTls.identity?.source, 'tls', name);
    assert.equal(viaNginx.identity?.source, 'nginx', name);
    assert.equal(viaNginx.identity?.verify, verify, name);
    assert.deepEqual(withoutSource(viaNginx.identity), withoutSource(viaTls.identity), name);
  }
});

test('the mtls-combined access line is the same direct and through nginx (subject, serial, verify)', async () => {
  const viaTls = await send(direct.port, pki.clients.valid);
  const viaNginx = await send(nginx.port, pki.clients.valid);
  const identityPart = (line: string): string => line.slice(line.indexOf(' verify='));
  const directLine = await logLineFor(viaTls.id);
  const nginxLine = await logLineFor(viaNginx.id);
  assert.equal(identityPart(nginxLine), identityPart(directLine));
  const serial = viaTls.identity!.certificate!.serialNumber;
  assert.match(
    directLine,
    new RegExp(`verify=SUCCESS subject="CN=alice,O=mtls-observability demo" issuer="CN=mtls-observability development CA" serial=${serial} `),
  );
  // Shown in the report: the same certificate, directly and through nginx.
  process.stdout.write(`# direct: ${directLine}# nginx:  ${nginxLine}`);
});

test('require: true answers 403 for a certificate nginx rejected, 200 for a verified one', async () => {
  const expired = await send(nginx.port, pki.clients.expired, '/required');
  assert.equal(expired.status, 403);
  assert.deepEqual(JSON.parse(expired.body), {
    code: 'ERR_MTLS_CLIENT_CERT_INVALID',
    message: 'The client certificate was not accepted (CERT_HAS_EXPIRED).',
    verify: 'FAILED:CERT_HAS_EXPIRED',
  });
  const untrusted = await send(nginx.port, pki.clients.untrusted, '/required');
  assert.equal(untrusted.status, 403);
  const none = await send(nginx.port, undefined, '/required');
  assert.equal(none.status, 403);
  assert.equal(JSON.parse(none.body).code, 'ERR_MTLS_CLIENT_CERT_REQUIRED');
  const valid = await send(nginx.port, pki.clients.valid, '/required');
  assert.equal(valid.status, 200);
});

test('a client cannot forge the headers through nginx: nginx overwrites or drops them', async () => {
  const forged = {
    'X-SSL-Client-Cert': encodeURIComponent(pki.clients.valid.certPem),
    'X-SSL-Client-Verify': 'SUCCESS',
  };
  const withoutCert = await send(nginx.port, undefined, '/', forged);
  assert.equal(withoutCert.identity?.verify, 'NONE');
  assert.equal(JSON.parse(withoutCert.body).forged, null);
  const withOtherCert = await send(nginx.port, pki.clients.untrusted, '/', forged);
  assert.equal(withOtherCert.identity?.verify, 'FAILED:UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  assert.equal(withOtherCert.identity?.certificate?.subject, 'CN=untrusted,O=mtls-observability demo');
});

test('a forged header sent straight to the app from an untrusted address is ignored, removed and counted', async () => {
  const before = spoofs.length;
  const id = String(++nextId);
  const port = (upstream.address() as net.AddressInfo).port;
  const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        localAddress: '127.0.0.2',
        port,
        path: `/?id=${id}`,
        headers: {
          'X-SSL-Client-Cert': encodeURIComponent(pki.clients.valid.certPem),
          'X-SSL-Client-Verify': 'SUCCESS',
        },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(response.status, 200);
  assert.deepEqual(JSON.parse(response.body), { verify: 'NONE', forged: null });
  assert.deepEqual(identities.get(id), { verified: false, verify: 'NONE', reason: 'NOT_TLS', source: 'tls' });
  assert.deepEqual(spoofs.slice(before), [
    { remoteAddress: '127.0.0.2', format: 'nginx', headers: ['x-ssl-client-cert', 'x-ssl-client-verify'] },
  ]);
});
