/**
 * The smallest useful setup: Express, morgan with the identity fields, and `mtlsIdentity()`
 * refusing requests without a verified client certificate.
 *
 *   npx mtls-observability dev-certs certs        # development CA, server and client certificates
 *   node --import tsx examples/express-basic/server.ts certs
 *   curl --cacert certs/ca.pem --cert certs/client-valid.pem --key certs/client-valid-key.pem https://localhost:8443/
 *
 * PORT sets the port (default 8443; 0 picks a free one).
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

registerMorganTokens(morgan);

const app = express();
app.use(morgan('mtls-combined'));
// require: true answers 403 with a JSON error code unless the client certificate verified.
app.use(mtlsIdentity({ require: true }));

app.get('/', (_req, res) => {
  const identity = res.locals.mtls;
  res.json({ hello: identity.certificate?.subject, spiffeId: identity.certificate?.spiffeId ?? null });
});

const server = https.createServer(
  {
    cert: readFileSync(join(certificateDir, 'server.pem')),
    key: readFileSync(join(certificateDir, 'server-key.pem')),
    ca: readFileSync(join(certificateDir, 'ca.pem')),
    requestCert: true,
    // Let failed verifications reach the app: they are logged with their reason and answered
    // with a 403 by mtlsIdentity({ require: true }) instead of a silent TLS disconnect.
    rejectUnauthorized: false,
  },
  app,
);
// TLS 1.2 clients could otherwise renegotiate and present another certificate on an open connection.
observeTlsServer(server);

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on https://localhost:${(server.address() as AddressInfo).port}`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
