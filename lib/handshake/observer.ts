/**
 * `observeTlsServer()`: handshake outcomes that a middleware can never see.
 *
 * With `rejectUnauthorized: true`, Node completes the OpenSSL handshake, finds the client
 * certificate unverified and destroys the socket without an alert: the server emits
 * `'tlsClientError'` with `ECONNRESET`, and the reason is only in `tlsSocket.authorizationError`.
 * A missing certificate fails inside OpenSSL with
 * `ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE`. Every other `'tlsClientError'` is not about the
 * client certificate (plain HTTP on the TLS port, health checks that connect and close, version or
 * cipher mismatch, timeouts) and is kept apart as `outcome: 'failed'`.
 *
 * With `rejectUnauthorized: false` a failing certificate completes the handshake and reaches the
 * middleware as a request, which counts and logs it there (`mtls.server.requests`, the access
 * line). Here it is one successful handshake, so it is never counted twice. If the application
 * destroys such a socket itself in a `'secureConnection'` listener that runs before ours, the
 * handshake is reported as rejected here, since no request will follow.
 *
 * TLS 1.2 renegotiation (a client presenting another certificate on an established connection)
 * is refused unless `allowRenegotiation` is set: Node keeps `authorized === true` after such a
 * handshake, so code that reads `authorized` alone would trust the new, unverified certificate.
 */
import tls from 'node:tls';
import type { Socket } from 'node:net';
import {
  formatHandshakeFailure,
  HANDSHAKE_NOISE_REASONS,
  type HandshakeLogFormat,
  type TlsHandshakeFailure,
} from './log-line.js';
import { MtlsMetrics, METRICS_OPTIONS, type MetricsOptions } from '../outputs/metrics.js';
import { HandshakeMetrics } from '../outputs/handshake-metrics.js';
import { LogRecordEmitter, LOG_RECORDS_OPTIONS, type LogRecordsOptions } from '../outputs/log-records.js';
import { handshakeFailureRecord } from './log-record.js';
import { isBoolean, isFunction, isOneOf, validateOptions, type OptionSchema } from '../internal/options.js';
import { guardOnce } from '../internal/warn-once.js';
import { isLogDestination, lineWriter, type LogDestination } from '../internal/log-destination.js';
import { IDENTITY_REASONS, reasonCodeOr } from '../identity/peer-identity.js';
import { classifyTlsClientError } from './classify.js';

/** Where failure lines go: a writable stream (each line ends with `\n`) or a function (the line without `\n`). */
export type HandshakeLogDestination = LogDestination;

/** Options of {@link observeTlsServer}. */
export interface ObserveTlsServerOptions {
  /**
   * Count handshakes and renegotiations (`mtls.server.handshakes`, `mtls.server.renegotiations`),
   * time them (`mtls.server.tls_handshake.duration`, `mtls.server.active_tls_handshakes`) and
   * report the served certificate's expiry (`mtls.server.certificate.not_after`): `false` turns
   * it off, an object sets the `meterProvider`. Default: `{}` (on, with the global provider; a
   * no-op without an OpenTelemetry SDK).
   */
  readonly metrics?: false | MetricsOptions;
  /**
   * Emit one OpenTelemetry log record per failed handshake (event `mtls.handshake.failure`;
   * severity `WARN` for a rejected client certificate, `DEBUG` for the other failures, which
   * `logNoise: false` leaves out), through the optional `@opentelemetry/api-logs`: `false` turns
   * it off, an object sets the `loggerProvider`. Default: `{}` (on, with the global
   * `LoggerProvider`; nothing without `@opentelemetry/api-logs` or a logs SDK).
   */
  readonly logs?: false | LogRecordsOptions;
  /**
   * Where to write one line per failed handshake: a stream such as `process.stdout` or the access
   * log's file stream, or a function that receives each line. Default: no log.
   */
  readonly log?: HandshakeLogDestination;
  /** `'text'` (beside `mtls-combined` lines) or `'json'` (beside `mtls-json` lines). Default: `'text'`. */
  readonly logFormat?: HandshakeLogFormat;
  /**
   * Also log failures that are not about the client certificate (`outcome: 'failed'`: plain
   * HTTP, health checks, mismatches, timeouts), as lines and as log records. They are always
   * counted. Default: `true`.
   */
  readonly logNoise?: boolean;
  /** Called with each failed handshake, for structured loggers. A throw is caught. Default: none. */
  readonly onHandshakeFailure?: (failure: TlsHandshakeFailure) => void;
  /**
   * Let TLS 1.2 clients renegotiate. When `false`, a connection that starts a renegotiation is
   * closed before the new handshake gets anywhere (Node's `tlsSocket.disableRenegotiation()`), and
   * the attempt is counted in `mtls.server.renegotiations` (`refused`). A renegotiation can present
   * another client certificate on an established connection, it costs the server a full handshake,
   * HTTP/2 forbids it and TLS 1.3 removed it; browsers and HTTP clients do not start one. Set
   * `true` only if the application itself renegotiates (`tlsSocket.renegotiate()`, e.g. to ask for
   * a certificate on some routes): completed renegotiations are then counted (`completed`), and
   * the middleware reads the connection's identity again after each one (an identity read while
   * one is under way is never verified). TLS 1.3 connections are not affected. Default: `false`.
   */
  readonly allowRenegotiation?: boolean;
}

/** What {@link observeTlsServer} returns. */
export interface TlsServerObserver {
  /**
   * Removes the server listeners this observer added and stops counting. Connections already open
   * keep refusing renegotiation. Idempotent.
   */
  detach(): void;
}

const OPTION_CHECKS: OptionSchema<ObserveTlsServerOptions> = {
  log: isLogDestination,
  logFormat: isOneOf(['text', 'json']),
  logNoise: isBoolean,
  onHandshakeFailure: isFunction,
  allowRenegotiation: isBoolean,
  metrics: METRICS_OPTIONS,
  logs: LOG_RECORDS_OPTIONS,
};

const observed = new WeakSet<tls.Server>();

interface RemotePeer {
  readonly address: string | undefined;
  readonly port: number | undefined;
}

/** The parts of a server-side `TLSSocket` read here. */
interface ServerTlsSocket {
  readonly authorized?: boolean;
  readonly authorizationError?: unknown;
  readonly destroyed?: boolean;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  /** Node's undocumented link from the TLS socket to the TCP socket it wraps. */
  readonly _parent?: unknown;
  getProtocol?(): string | null;
  isSessionReused?(): boolean;
  getPeerX509Certificate?(): unknown;
  /** The local (server) certificate presented on this connection. */
  getX509Certificate?(): { readonly validTo: string } | undefined;
  disableRenegotiation?(): void;
  destroy?(): void;
  on?(event: 'error' | 'secure', listener: (this: ServerTlsSocket, error?: unknown) => void): unknown;
  prependListener?(event: 'error', listener: (this: ServerTlsSocket, error?: unknown) => void): unknown;
  removeListener?(event: 'error', listener: (this: ServerTlsSocket, error?: unknown) => void): unknown;
}

/** Node's errors for a renegotiation it refused: ours (disableRenegotiation) and its rate limit. */
const RENEGOTIATION_REFUSALS: ReadonlySet<string> = new Set(['ERR_TLS_RENEGOTIATION_DISABLED', 'ERR_TLS_SESSION_ATTACK']);

/**
 * Observes the handshakes of an `https.Server`, `tls.Server` or `http2.createSecureServer()`:
 * counts successes (by protocol version and resumption) and failures (by outcome and reason) in
 * `mtls.server.handshakes`, writes one line per failed handshake to `log`, and refuses TLS 1.2
 * renegotiation unless `allowRenegotiation` is set. Call it before `listen()` so early
 * connections are seen.
 *
 * @throws {TypeError} when `server` is not a TLS server, when it is already observed, or for a bad option.
 */
export function observeTlsServer(server: tls.Server, options?: ObserveTlsServerOptions): TlsServerObserver {
  if (!(server instanceof tls.Server)) {
    throw new TypeError(
      'observeTlsServer(): server must be an https.Server, tls.Server or HTTP/2 secure server ' +
        '(the value https.createServer() returns), got ' +
        (typeof server === 'object' && server !== null ? `a ${(server as object).constructor?.name ?? 'object'}` : String(server)) +
        '.',
    );
  }
  const o = validateOptions<ObserveTlsServerOptions>('observeTlsServer()', options, OPTION_CHECKS);
  if (observed.has(server)) {
    throw new TypeError(
      'observeTlsServer(): this server is already observed; call detach() on the first observer ' +
        'before observing it again (one observer per server keeps counts exact).',
    );
  }
  const write = lineWriter(o.log);
  const format: HandshakeLogFormat = o.logFormat ?? 'text';
  const logNoise = o.logNoise ?? true;
  const onFailure = o.onHandshakeFailure;
  const allowRenegotiation = o.allowRenegotiation ?? false;
  const metrics = o.metrics === false ? undefined : new MtlsMetrics(o.metrics ?? {});
  const timing = o.metrics === false ? undefined : new HandshakeMetrics(o.metrics ?? {});
  const records = o.logs === false ? undefined : new LogRecordEmitter(o.logs ?? {});
  // Each handshake's start (the TCP connection), by the TCP socket, until it ends.
  let pending = new WeakMap<object, number>();
  // The TLS socket forgets its peer address once destroyed, which is exactly when a rejected
  // handshake is reported; the TCP socket's address is read when the connection arrives.
  const peers = new WeakMap<object, RemotePeer>();
  const guarded = guardOnce('observeTlsServer()', 'a log destination or onHandshakeFailure', (fn: () => void) => fn());

  const report = (failure: TlsHandshakeFailure): void => {
    metrics?.recordHandshake(failure.outcome, failure.reason, failure.tlsVersion);
    logFailure(failure);
  };

  const logFailure = (failure: TlsHandshakeFailure): void => {
    if (logNoise || failure.outcome === 'rejected') {
      if (write !== undefined) guarded(() => write(formatHandshakeFailure(failure, format)));
      records?.emit(handshakeFailureRecord(failure));
    }
    if (onFailure !== undefined) guarded(() => onFailure(failure));
  };

  const peerOf = (socket: ServerTlsSocket): RemotePeer => {
    try {
      const address = socket.remoteAddress;
      if (typeof address === 'string') return { address, port: socket.remotePort };
      const parent = socket._parent;
      if (typeof parent === 'object' && parent !== null) return peers.get(parent) ?? { address: undefined, port: undefined };
    } catch {
      // A socket in an odd state: report without an address.
    }
    return { address: undefined, port: undefined };
  };

  // Timed from the TCP connection: Node has no event for the ClientHello's arrival, and a client
  // that connects and stalls holds a handshake (and its server resources) open from then on.
  const handshakeEnded = (socket: ServerTlsSocket | undefined, reason: string | undefined, protocol: string | undefined): void => {
    if (timing === undefined || socket === undefined) return;
    const tcp = typeof socket._parent === 'object' && socket._parent !== null ? socket._parent : socket;
    const start = pending.get(tcp);
    if (start === undefined) return;
    pending.delete(tcp);
    timing.handshakeEnded((performance.now() - start) / 1000, reason, protocol);
  };

  const onConnection = (socket: Socket): void => {
    try {
      peers.set(socket, { address: socket.remoteAddress, port: socket.remotePort });
      if (timing !== undefined) {
        pending.set(socket, performance.now());
        timing.handshakeStarted();
        const waiting = pending;
        // The TCP socket closes just before the TLS socket reports the failure ('tlsClientError'
        // follows in the same turn), so a handshake with no end event is only counted out after it.
        socket.once('close', () => {
          setImmediate(() => {
            if (waiting.delete(socket)) timing.handshakeAbandoned();
          });
        });
      }
    } catch {
      // No address to remember.
    }
  };

  const onTlsClientError = (error: unknown, socket: ServerTlsSocket | undefined): void => {
    try {
      const errorCode = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined;
      const { outcome, reason } = classifyTlsClientError(errorCode, socket?.authorizationError);
      const peer = socket === undefined ? { address: undefined, port: undefined } : peerOf(socket);
      // Before the ServerHello, OpenSSL reports the highest version it is configured for, not a
      // negotiated one (plain HTTP shows 'TLSv1.3'); only certificate failures got that far.
      const protocol = outcome === 'rejected' ? safeProtocol(socket) : undefined;
      handshakeEnded(socket, reason, protocol);
      report({
        time: new Date(),
        outcome,
        reason,
        ...(peer.address !== undefined ? { remoteAddress: peer.address } : {}),
        ...(peer.port !== undefined ? { remotePort: peer.port } : {}),
        ...(protocol !== undefined ? { tlsVersion: protocol } : {}),
        ...(errorCode !== undefined ? { errorCode } : {}),
      });
    } catch {
      // Never let observation break the server.
    }
  };

  // Node reports a renegotiation it refuses as an 'error' on the socket and leaves closing the
  // connection to the listeners (an https.Server closes it through 'clientError', after writing a
  // 400 response into the handshake; a tls.Server does not close it), so close it here, first,
  // before the new handshake can authenticate anything.
  function onSocketError(this: ServerTlsSocket, error: unknown): void {
    try {
      const code = (error as { code?: unknown } | null | undefined)?.code;
      if (typeof code !== 'string' || !RENEGOTIATION_REFUSALS.has(code)) return;
      const peer = peerOf(this);
      const protocol = safeProtocol(this);
      // Once: destroying with the error (as http's 'clientError' handling does) emits it again.
      this.removeListener?.('error', onSocketError);
      this.destroy?.();
      if (detached) return;
      metrics?.recordRenegotiation('refused', code);
      // A client that tries to change its certificate is rejected like one that presents a bad
      // one: it gets a log line (its first handshake was already counted as a success).
      logFailure({
        time: new Date(),
        outcome: 'rejected',
        reason: code,
        ...(peer.address !== undefined ? { remoteAddress: peer.address } : {}),
        ...(peer.port !== undefined ? { remotePort: peer.port } : {}),
        ...(protocol !== undefined ? { tlsVersion: protocol } : {}),
      });
    } catch {
      // Never let observation break the server.
    }
  }
  // Node emits 'secure' again after every completed renegotiation.
  function onRenegotiated(): void {
    if (!detached) metrics?.recordRenegotiation('completed');
  }
  const watchRenegotiation = (socket: ServerTlsSocket): void => {
    if (typeof socket.on !== 'function' || typeof socket.prependListener !== 'function') return;
    if (!allowRenegotiation) socket.disableRenegotiation?.();
    else socket.on('secure', onRenegotiated);
    socket.prependListener?.('error', onSocketError);
  };

  const onSecureConnection = (socket: ServerTlsSocket): void => {
    try {
      const protocol = safeProtocol(socket);
      if (socket.destroyed === true && socket.authorized !== true) {
        // The application rejected the client itself (rejectUnauthorized: false plus its own
        // 'secureConnection' listener): no request will follow, so report it here.
        const reason =
          typeof socket.authorizationError === 'string' && socket.authorizationError !== 'UNABLE_TO_GET_ISSUER_CERT'
            ? reasonCodeOr(socket.authorizationError, HANDSHAKE_NOISE_REASONS.other)
            : socket.getPeerX509Certificate?.() === undefined
              ? IDENTITY_REASONS.certificateMissing
              : reasonCodeOr(socket.authorizationError, HANDSHAKE_NOISE_REASONS.other);
        const peer = peerOf(socket);
        handshakeEnded(socket, reason, protocol);
        report({
          time: new Date(),
          outcome: 'rejected',
          reason,
          ...(peer.address !== undefined ? { remoteAddress: peer.address } : {}),
          ...(peer.port !== undefined ? { remotePort: peer.port } : {}),
          ...(protocol !== undefined ? { tlsVersion: protocol } : {}),
        });
        return;
      }
      handshakeEnded(socket, undefined, protocol);
      timing?.servedOn(socket);
      metrics?.recordHandshake('success', undefined, protocol, socket.isSessionReused?.() === true);
      // TLS 1.3 has no renegotiation (and its post-handshake messages would look like one to Node).
      if (protocol !== 'TLSv1.3') watchRenegotiation(socket);
    } catch {
      // Never let observation break the server.
    }
  };

  let detached = false;
  server.on('connection', onConnection);
  server.on('tlsClientError', onTlsClientError);
  server.on('secureConnection', onSecureConnection);
  observed.add(server);
  return {
    detach() {
      if (detached) return;
      detached = true;
      server.removeListener('connection', onConnection);
      server.removeListener('tlsClientError', onTlsClientError);
      server.removeListener('secureConnection', onSecureConnection);
      pending = new WeakMap();
      timing?.reset();
      observed.delete(server);
    },
  };
}

function safeProtocol(socket: ServerTlsSocket | undefined): string | undefined {
  try {
    const protocol = socket?.getProtocol?.();
    return typeof protocol === 'string' && protocol !== 'unknown' ? protocol : undefined;
  } catch {
    return undefined;
  }
}
