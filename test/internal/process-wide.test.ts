import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import express from 'express';
import type morganType from 'morgan';
import { mtlsIdentity } from '../../lib/middleware.js';
import { registerMorganTokens } from '../../lib/outputs/morgan.js';
import { MORGAN_TOKEN_NAMES } from '../../lib/outputs/identity-fields.js';
import { PROCESS_WIDE_STATE_VERSION, processWide, processWideKey } from '../../lib/internal/process-wide.js';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { createSelfSignedCertificate, type DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { httpsRequest, startHttpsServer } from '../helpers/https.js';
import { getPeerIdentity } from '../../lib/get-peer-identity.js';
import { connectionOf } from '../../lib/identity/registry.js';
import type { PeerIdentity } from '../../lib/identity/peer-identity.js';

const require = createRequire(import.meta.url);

let pki: DevCertificateSet;
let forged: PeerIdentity;
before(async () => {
  pki = await getTestPki();
  const admin = await createSelfSignedCertificate({ subject: 'admin' });
  forged = Object.freeze({ verified: true, verify: 'SUCCESS', source: 'tls', certificate: parseCertificate(admin.der) });
});

/**
 * What a copy of the library from before state versioning wrote: its maps under the unversioned
 * `mtls-observability.<name>` keys, created the way it created them.
 */
function oldCopyMap(name: string): WeakMap<object, PeerIdentity> {
  const key = Symbol.for(`mtls-observability.${name}`);
  const holder = globalThis as Record<symbol, unknown>;
  if (holder[key] === undefined) {
    Object.defineProperty(holder, key, { value: new WeakMap(), enumerable: false, configurable: false, writable: false });
  }
  return holder[key] as WeakMap<object, PeerIdentity>;
}

test('the shared state lives under a versioned key', () => {
  assert.equal(PROCESS_WIDE_STATE_VERSION, 2);
  assert.equal(processWideKey('connectionIdentities'), Symbol.for('mtls-observability.v2.connectionIdentities'));
  const value = processWide('processWideTest', () => ({ created: true }));
  assert.equal(processWide('processWideTest', () => ({ created: false })), value);
  assert.equal((globalThis as Record<symbol, unknown>)[Symbol.for('mtls-observability.v2.processWideTest')], value);
});

test('an old copy seeding a forged verified identity for a real connection is not served', async () => {
  const lines: string[] = [];
  const morgan = require('morgan') as typeof morganType;
  registerMorganTokens(morgan as never, { formats: false });
  const seen: (PeerIdentity | undefined)[] = [];
  const app = express();
  app.use(
    morgan(':status :peer_cert_verify ":peer_cert_subject"', {
      stream: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(chunk.toString('utf8').trimEnd());
          callback();
        },
      }),
    }),
  );
  // The old copy ran first for this request (its own middleware or getPeerIdentity) and recorded a
  // verified CN=admin for the real connection and the request.
  app.use((req, _res, next) => {
    oldCopyMap('connectionIdentities').set(connectionOf(req as IncomingMessage)!, forged);
    oldCopyMap('requestIdentities').set(req, forged);
    seen.push(getPeerIdentity(req));
    next();
  });
  app.use(mtlsIdentity({ require: true, tracing: false, metrics: false }));
  app.use((_req, res) => {
    res.end('the route ran');
  });
  const server = await startHttpsServer(app);
  try {
    const response = await httpsRequest({ port: server.port, client: pki.clients.selfSigned });
    assert.equal(response.status, 403);
    assert.deepEqual(JSON.parse(response.body), {
      code: 'ERR_MTLS_CLIENT_CERT_INVALID',
      message: 'The client certificate was not accepted (DEPTH_ZERO_SELF_SIGNED_CERT).',
      verify: 'FAILED:DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    assert.equal(seen[0]?.verify, 'FAILED:DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(seen[0]?.certificate?.subject, 'CN=self-signed,O=mtls-observability demo');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(lines, ['403 FAILED:DEPTH_ZERO_SELF_SIGNED_CERT "CN=self-signed,O=mtls-observability demo"']);
  } finally {
    await server.close();
  }
});

test("an old copy's morgan tokens are not taken for this copy's: registering says so instead of keeping them", () => {
  const morgan = require('morgan110') as typeof morganType & Record<symbol, unknown>;
  // What the old copy left on morgan: its tokens and its unversioned marker.
  const oldTokens = new Set<string>(MORGAN_TOKEN_NAMES);
  for (const name of MORGAN_TOKEN_NAMES) morgan.token(name, () => 'old copy');
  Object.defineProperty(morgan, Symbol.for('mtls-observability.morganRegistered'), { value: oldTokens });
  assert.throws(() => registerMorganTokens(morgan as never, { formats: false }), {
    name: 'TypeError',
    message: /^registerMorganTokens\(\): morgan already has a token or format named "peer_cert_subject"; refusing to overwrite it\./,
  });
});
