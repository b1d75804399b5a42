/**
 * Bytes as uppercase hex, two digits per octet, no separators: the one spelling of serial numbers,
 * fingerprints, DER tags in error messages and `#`-dumped name values. OpenSSL prints serials and
 * fingerprints in uppercase, so logs and metrics written by this library compare equal to its output.
 */

const HEX_DIGITS = '0123456789ABCDEF';

/** Two uppercase hex digits of one octet (`0x0a` → `0A`). */
export function hexByte(value: number): string {
  return HEX_DIGITS[(value >> 4) & 15]! + HEX_DIGITS[value & 15]!;
}

/** Uppercase hex of `bytes[start, end)` (all of it by default). */
export function toHex(bytes: Uint8Array, start = 0, end = bytes.length): string {
  if (Buffer.isBuffer(bytes)) return bytes.toString('hex', start, end).toUpperCase();
  let out = '';
  for (let i = start; i < end; i++) out += HEX_DIGITS[bytes[i]! >> 4]! + HEX_DIGITS[bytes[i]! & 15]!;
  return out;
}
