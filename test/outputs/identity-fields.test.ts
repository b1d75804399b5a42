import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import express from 'express';
import morgan from 'morgan';
import winston from 'winston';
import expressWinston from 'express-winston';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { attachPeerIdentity } from '../../lib/identity/registry.js';
import { verifiedIdentity } from '../../lib/identity/peer-identity.js';
import { mtlsLogFields, MORGAN_TOKEN_NAMES } from '../../lib/outputs/identity-fields.js';
import { mtlsIdentity } from '../../lib/middleware.js';
import { registerMorganTokens } from '../../lib/outputs/morgan.js';
import { FORWARDED_CERTIFICATE_HEADER_NAMES } from '../../lib/sources/proxy/formats/index.js';
import type { DevCertificateSet } from '../../lib/dev-certs/index.js';
import type { PeerCertificate } from '../../lib/certificate/peer-certificate.js';
import { getTestPki } from '../helpers/pki.js';
import { httpsRequest, startHttpsServer } from '../helpers/https.js';
import { normalizePinoLine, startPinoApp, type PinoApp } from '../helpers/pino-app.js';

let pki: DevCertificateSet;
let app: PinoApp;
let alice: PeerCertificate;

before(async () => {
  pki = await getTestPki();
  app = await startPinoApp(pki);
  alice = parseCertificate(pki.clients.valid.der);
});

after(async () => {
  await app?.close();
});

/** pino-http's request and response part of a line from the test app, for a direct request. */
function requestPart(id: number, extraHeaders = ''): string {
  return (
    `{"level":30,"time":0,"pid":0,"hostname":"host","req":{"id":${id},"method":"GET","url":"/","query":{},"params":{},` +
    `"headers":{"host":"localhost:PORT",${extraHeaders}"connection":"close"},"remoteAddress":"127.0.0.2","remotePort":0},` +
    `"res":{"statusCode":200,"headers":{"x-powered-by":"Express","content-type":"text/plain; charset=utf-8","content-length":"2",` +
    `"etag":"W/\\"2-eoX0dku9ba8cNUXvu/DyeabcC+s\\""}},"responseTime":0`
  );
}

test('pino-http recipe, direct TLS: one line per request with the mtls-json identity fields, once', async () => {
  const line = await app.send(app.directPort, pki.clients.valid);
  assert.equal(
    normalizePinoLine(line),
    `${requestPart(1)},"peer_cert_verify":"SUCCESS","peer_cert_source":"tls",` +
      `"peer_cert_subject":"CN=alice,O=mtls-observability demo","peer_cert_issuer":"CN=mtls-observability development CA",` +
      `"peer_cert_serial":"${alice.serialNumber}","peer_cert_fingerprint":"${alice.fingerprint256}",` +
      `"peer_cert_not_after":"${alice.notAfter.toISOString()}","peer_cert_spiffe":"spiffe://example.org/ns/demo/sa/alice",` +
      `"msg":"request completed"}`,
  );
  assert.equal(line.split('peer_cert_verify').length, 2);
});

test('pino-http recipe: forged certificate headers are redacted, the verdict is the connection\'s', async () => {
  const line = await app.send(app.directPort, undefined, {
    'x-ssl-client-cert': pki.clients.valid.certPem.replace(/\n/g, ''),
    'x-forwarded-client-cert': 'Hash=00;Subject="CN=admin"',
  });
  assert.equal(
    normalizePinoLine(line),
    `${requestPart(2, '"x-ssl-client-cert":"[Redacted]","x-forwarded-client-cert":"[Redacted]",')},` +
      '"peer_cert_verify":"NONE","peer_cert_reason":"CERT_MISSING","peer_cert_source":"tls","msg":"request completed"}',
  );
});

test('pino-http recipe: a hostile subject stays on one line and reads back as mtls-json writes it', async () => {
  const line = await app.send(app.directPort, pki.clients.hostile);
  assert.equal(line.includes('\n'), false);
  const record = JSON.parse(line) as Record<string, unknown>;
  assert.equal(record.peer_cert_subject, parseCertificate(pki.clients.hostile.der).subject);
  assert.equal(record.peer_cert_verify, 'SUCCESS');
});

test('mtlsLogFields returns exactly the identity members of an mtls-json line (one owner)', async () => {
  const jsonLines: string[] = [];
  const fields: unknown[] = [];
  registerMorganTokens(morgan);
  const server = await startHttpsServer((req, res) => {
    const web = express();
    web.use(morgan('mtls-json', { stream: { write: (l: string) => void jsonLines.push(l) } }));
    web.use(mtlsIdentity());
    web.use((r, s) => {
      s.on('finish', () => fields.push(mtlsLogFields(r)));
      s.end('ok');
    });
    web(req, res);
  });
  try {
    for (const client of [pki.clients.valid, pki.clients.expired, undefined, pki.clients.hostile]) {
      await httpsRequest({ port: server.port, ...(client === undefined ? {} : { client }) });
    }
  } finally {
    await server.close();
  }
  assert.equal(jsonLines.length, 4);
  jsonLines.forEach((line, i) => {
    const record = JSON.parse(line) as Record<string, unknown>;
    const identityMembers = Object.fromEntries(Object.entries(record).filter(([key]) => key.startsWith('peer_cert_')));
    assert.deepEqual(fields[i], identityMembers);
  });
  assert.deepEqual(Object.keys(fields[1]!), [
    'peer_cert_verify',
    'peer_cert_reason',
    'peer_cert_source',
    'peer_cert_subject',
    'peer_cert_issuer',
    'peer_cert_serial',
    'peer_cert_fingerprint',
    'peer_cert_not_after',
  ]);
  // The token names are a subset of the field names.
  for (const name of MORGAN_TOKEN_NAMES) assert.ok(Object.keys(fields[0]!).includes(name), name);
});

test('mtlsLogFields: {} before any middleware ran, and for something that is not a request', () => {
  assert.deepEqual(mtlsLogFields({ headers: {}, socket: {} } as IncomingMessage), {});
  assert.deepEqual(mtlsLogFields({} as IncomingMessage), {});
  assert.deepEqual(mtlsLogFields(null as unknown as IncomingMessage), {});
});

test('attack: a SPIFFE ID with characters a logger writes raw (U+2028, RLO, DEL) is percent-encoded', () => {
  const req = { headers: {}, socket: {}, httpVersionMajor: 2 } as unknown as IncomingMessage;
  const certificate = { ...alice, spiffeId: 'spiffe://example.org/a\u2028b\u202ec\u007fd' } as PeerCertificate;
  attachPeerIdentity(req, verifiedIdentity('tls', certificate));
  const fields = mtlsLogFields(req);
  assert.equal(fields.peer_cert_spiffe, 'spiffe://example.org/a%E2%80%A8b%E2%80%AEc%7Fd');
  // Each call is a new object, which the caller may extend.
  assert.notEqual(mtlsLogFields(req), fields);
  (fields as Record<string, unknown>).extra = 1;
  assert.equal('extra' in mtlsLogFields(req), false);
});

test('winston + express-winston recipe: identity fields in meta, forwarded-certificate headers left out', async () => {
  const lines: string[] = [];
  const logger = winston.createLogger({
    format: winston.format.json(),
    transports: [
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk: Buffer, _encoding, callback) {
            lines.push(chunk.toString('utf8').trimEnd());
            callback();
          },
        }),
      }),
    ],
  });
  const web = express();
  web.use(
    expressWinston.logger({
      winstonInstance: logger,
      headerBlacklist: [...FORWARDED_CERTIFICATE_HEADER_NAMES],
      requestWhitelist: ['url', 'method', 'headers'],
      responseWhitelist: ['statusCode'],
      dynamicMeta: (req) => ({ ...mtlsLogFields(req) }),
      msg: 'HTTP {{req.method}} {{req.url}}',
    }),
  );
  web.use(mtlsIdentity());
  web.get('/', (_req, res) => void res.send('ok'));
  const server = await startHttpsServer(web);
  try {
    await httpsRequest({ port: server.port, client: pki.clients.valid, headers: { 'x-ssl-client-cert': 'forged' } });
  } finally {
    await server.close();
  }
  assert.equal(lines.length, 1);
  const record = JSON.parse(lines[0]!) as { meta: Record<string, unknown>; message: string; level: string };
  assert.equal(record.message, 'HTTP GET /');
  assert.equal(record.level, 'info');
  assert.equal((record.meta.req as { headers: Record<string, unknown> }).headers['x-ssl-client-cert'], undefined);
  const identity = Object.fromEntries(Object.entries(record.meta).filter(([key]) => key.startsWith('peer_cert_')));
  assert.deepEqual(Object.keys(record.meta).filter((key) => !key.startsWith('peer_cert_')).sort(), ['req', 'res', 'responseTime']);
  assert.deepEqual(identity, {
    peer_cert_verify: 'SUCCESS',
    peer_cert_source: 'tls',
    peer_cert_subject: 'CN=alice,O=mtls-observability demo',
    peer_cert_issuer: 'CN=mtls-observability development CA',
    peer_cert_serial: alice.serialNumber,
    peer_cert_fingerprint: alice.fingerprint256,
    peer_cert_not_after: alice.notAfter.toISOString(),
    peer_cert_spiffe: 'spiffe://example.org/ns/demo/sa/alice',
  });
});
