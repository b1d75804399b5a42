/**
 * Trusted-proxy address lists: CIDR parsing at factory time and a cheap per-request match of the
 * TCP peer address (IPv4, IPv6 and IPv4-mapped IPv6).
 *
 * Every address is held as 16 bytes: IPv4 as its IPv4-mapped IPv6 form `::ffff:a.b.c.d`
 * (RFC 4291 section 2.5.5.2), so `127.0.0.1/32` matches a dual-stack socket's
 * `::ffff:127.0.0.1` peer and `::ffff:10.0.0.0/104` matches `10.1.2.3`. Because of that, an IPv6
 * range that contains `::ffff:0:0/96` (such as `::/64`) would trust every IPv4 peer: it is refused.
 *
 * Zones (RFC 4007 section 11): a peer address with a zone index (`fe80::1%eth0`, as Node reports
 * link-local peers) is the same address on another link only within its zone, so it matches only
 * entries naming the same zone (`fe80::1%eth0`, `fe80::%eth0/64`); an entry without a zone matches
 * only peers without one.
 */
import { IPV4_MAPPED_PREFIX, parseIpAddress } from '../../certificate/ip-address.js';

/** One compiled CIDR range. */
interface CidrRange {
  readonly bytes: Uint8Array;
  /** Prefix length over the 128-bit form (IPv4 `/n` becomes `/96+n`). */
  readonly prefix: number;
  /** The zone index the peer must carry, `undefined` for none. */
  readonly zone: string | undefined;
}

/**
 * Answers whether a TCP peer address (as `socket.remoteAddress` reports it) is a trusted proxy.
 * `undefined` (a destroyed socket) and anything unparseable are never trusted.
 */
export type TrustedProxyMatcher = (address: string | undefined) => boolean;

// Node prints a zone as the interface name or its number.
const ZONE = /^[A-Za-z0-9_.-]{1,32}$/;
const MATCH_CACHE_LIMIT = 1024;

const IPV4_MAPPED_ALL = new Uint8Array([...IPV4_MAPPED_PREFIX, 0, 0, 0, 0]);

function hasHostBits(bytes: Uint8Array, prefix: number): boolean {
  for (let bit = prefix; bit < 128; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return true;
  }
  return false;
}

function inRange(address: Uint8Array, range: CidrRange): boolean {
  const fullBytes = range.prefix >> 3;
  for (let i = 0; i < fullBytes; i++) {
    if (address[i] !== range.bytes[i]) return false;
  }
  const remainingBits = range.prefix & 7;
  if (remainingBits === 0) return true;
  const mask = (0xff << (8 - remainingBits)) & 0xff;
  return (address[fullBytes]! & mask) === (range.bytes[fullBytes]! & mask);
}

/**
 * Parses one CIDR (`10.0.0.0/8`, `2001:db8::/32`, `::ffff:10.0.0.0/104`, `fe80::%eth0/64`) or a
 * single address (a `/32` or `/128`). Returns a description of the problem instead of throwing, so
 * the caller can word the `TypeError`.
 */
function parseCidr(entry: string): CidrRange | string {
  const slash = entry.indexOf('/');
  let addressText = slash === -1 ? entry : entry.slice(0, slash);
  let zone: string | undefined;
  const percent = addressText.indexOf('%');
  if (percent !== -1) {
    zone = addressText.slice(percent + 1);
    addressText = addressText.slice(0, percent);
    if (!addressText.includes(':') || !ZONE.test(zone)) {
      return 'a zone index (%...) must follow an IPv6 address and be an interface name or number';
    }
  }
  const bytes = parseIpAddress(addressText);
  if (bytes === undefined) return 'not an IPv4 or IPv6 address';
  const isIpv4 = !addressText.includes(':');
  const maxPrefix = isIpv4 ? 32 : 128;
  let prefix = maxPrefix;
  if (slash !== -1) {
    const prefixText = entry.slice(slash + 1);
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > maxPrefix) {
      return `the prefix length must be an integer from 0 to ${maxPrefix}`;
    }
    prefix = Number(prefixText);
  }
  const fullPrefix = isIpv4 ? 96 + prefix : prefix;
  if (hasHostBits(bytes, fullPrefix)) {
    // `10.0.0.1/8` is almost always a typo; silently masking it would trust more than meant.
    return 'it has host bits set after the prefix; write the network address';
  }
  const range: CidrRange = { bytes, prefix: fullPrefix, zone };
  // IPv4 peers are held as ::ffff:a.b.c.d, so an IPv6 range over that block trusts all of IPv4.
  if (!isIpv4 && fullPrefix <= 96 && inRange(IPV4_MAPPED_ALL, range)) {
    return 'this IPv6 range contains ::ffff:0:0/96 and would trust every IPv4 peer; list IPv4 ranges in IPv4 form (e.g. "10.0.0.0/8", or "0.0.0.0/0" for all of IPv4)';
  }
  return range;
}

/**
 * Compiles a list of trusted-proxy CIDRs once (at factory time) into a matcher. Throws a
 * `TypeError` naming `optionName`, the bad entry and the fix.
 *
 * @param list CIDRs or single addresses, IPv4 or IPv6.
 * @param optionName how the caller's option is called, for error messages.
 */
export function compileTrustedProxies(
  list: readonly string[],
  optionName = 'trustedProxies',
): TrustedProxyMatcher {
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError(
      `${optionName} must be a non-empty array of CIDR strings such as "10.0.0.0/8" or "::1/128".`,
    );
  }
  const ranges: CidrRange[] = [];
  for (const entry of list) {
    if (typeof entry !== 'string') {
      throw new TypeError(`${optionName} entries must be CIDR strings, got ${typeof entry}.`);
    }
    const parsed = parseCidr(entry.trim());
    if (typeof parsed === 'string') {
      throw new TypeError(
        `${optionName}: ${JSON.stringify(entry)} is not a valid CIDR: ${parsed}. ` +
          'Use forms such as "10.0.0.0/8", "127.0.0.1", "2001:db8::/32", "::1/128" or "fe80::1%eth0".',
      );
    }
    ranges.push(parsed);
  }
  // Proxies are few addresses: remember answers so the common case is one Map lookup.
  const cache = new Map<string, boolean>();
  return (address) => {
    if (typeof address !== 'string') return false;
    const cached = cache.get(address);
    if (cached !== undefined) return cached;
    const bytes = parseIpAddress(address);
    const percent = address.indexOf('%');
    const zone = percent === -1 ? undefined : address.slice(percent + 1);
    const trusted =
      bytes !== undefined && ranges.some((range) => range.zone === zone && inRange(bytes, range));
    if (cache.size >= MATCH_CACHE_LIMIT) cache.clear();
    cache.set(address, trusted);
    return trusted;
  };
}
