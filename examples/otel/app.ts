/**
 * An mTLS Express app observed end to end: morgan access lines with the identity fields,
 * handshake-failure lines beside them (observeTlsServer), span attributes and metrics through the
 * OpenTelemetry SDK set up in ./instrumentation.ts.
 *
 *   npx mtls-observability dev-certs certs
 *   OTEL_SERVICE_NAME=mtls-example OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \
 *     node --import tsx --import ./examples/otel/instrumentation.ts examples/otel/app.ts certs
 *
 * PORT sets the port (default 8443; 0 picks a free one). LOG_FORMAT=json switches both kinds of
 * line to JSON.
 */
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import morgan from 'morgan';
import { mtlsIdentity, observeTlsServer, registerMorganTokens } from 'mtls-observability';

const certificateDir = process.argv[2] ?? 'certs';
const port = Number(process.env.PORT ?? 8443);
const json = process.env.LOG_FORMAT === 'json';

registerMorganTokens(morgan);

const app = express();
app.use(morgan(json ? 'mtls-json' : 'mtls-combined'));
// Span attributes and metrics are on by default; they use the SDK that instrumentation.ts started.
app.use(mtlsIdentity({ require: true }));
app.get('/', (_req, res) => {
  const identity = res.locals.mtls;
  res.json({ hello: identity.certificate?.subject });
});

const server = https.createServer(
  {
    cert: readFileSync(join(certificateDir, 'server.pem')),
    key: readFileSync(join(certificateDir, 'server-key.pem')),
    ca: readFileSync(join(certificateDir, 'ca.pem')),
    requestCert: true,
    // Refuse unverified clients during the handshake; observeTlsServer logs and counts them.
    rejectUnauthorized: true,
  },
  app,
);
// Same destination as the access log, so a rejected client is never invisible.
observeTlsServer(server, { log: process.stdout, logFormat: json ? 'json' : 'text' });

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on https://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
