/** The parsed client certificate: what identifies the peer, read by the strict DER reader. */

/** One attribute of a distinguished name, in certificate order. */
export interface DnAttribute {
  /** OpenSSL short name (`CN`, `O`, `emailAddress`, ...) or the dotted OID when there is none. */
  readonly type: string;
  /** Dotted object identifier, e.g. `2.5.4.3`. */
  readonly oid: string;
  /** The decoded value, unescaped. For an unknown string type: `#` plus the hex of its DER. */
  readonly value: string;
}

/** Subject alternative names by kind, in certificate order. */
export interface SubjectAltNames {
  readonly dns: readonly string[];
  readonly uri: readonly string[];
  readonly email: readonly string[];
  /** IPv4 dotted; IPv6 in RFC 5952 form; IPv4-mapped as `::ffff:192.0.2.1`. */
  readonly ip: readonly string[];
}

/** A parsed X.509 certificate, reduced to what identifies the peer. */
export interface PeerCertificate {
  /** RFC 4514 subject, most-specific RDN first, log-safe escapes (see docs/identity-format.md). */
  readonly subject: string;
  /** RFC 4514 issuer, same rules as `subject`. */
  readonly issuer: string;
  /** Subject RDNs in certificate (DER) order; each RDN is the array of its attributes. */
  readonly subjectAttributes: readonly (readonly DnAttribute[])[];
  /** Uppercase hex, two digits per byte, no sign byte; `00` for zero; `-` prefix when negative. */
  readonly serialNumber: string;
  /** SHA-256 of the DER, uppercase hex, no separators. */
  readonly fingerprint256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly san: SubjectAltNames;
  /** The `spiffe://` URI SAN when there is exactly one. */
  readonly spiffeId?: string;
  /** The certificate's DER encoding. */
  readonly der: Uint8Array;
}
