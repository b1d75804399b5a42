/**
 * A small strict DER scanner (ITU-T X.690 section 10): reads tag-length headers by offset, so the
 * certificate parser can find the fields it needs without building an object per ASN.1 block.
 * Every rule that distinguishes DER from BER for headers is enforced: definite lengths only,
 * minimal length octets, minimal high tag numbers. Nothing here recurses.
 */
import { CertificateParseError } from '../errors.js';
import { hexByte } from './hex.js';

/** Deepest nesting of constructed elements accepted; real certificates stay below 10. */
export const MAX_DER_DEPTH = 32;

/** One TLV located in a buffer. Offsets are absolute. */
export interface DerElement {
  /** The first identifier octet: class, constructed bit and (low) tag number. */
  readonly tag: number;
  /** The tag number, also for the high tag number form. */
  readonly tagNumber: number;
  /** True when the constructed bit (0x20) is set. */
  readonly constructed: boolean;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset just past the last content octet. */
  readonly end: number;
}

/**
 * Reads the element at `offset`, which must end at or before `limit` (the input's or the
 * enclosing element's end).
 */
export function readElement(der: Uint8Array, offset: number, limit: number): DerElement {
  if (offset >= limit) throw new CertificateParseError(`DER element expected at offset ${offset}, but the data ends there`);
  const tag = der[offset]!;
  let position = offset + 1;
  let tagNumber = tag & 0x1f;
  if (tagNumber === 0x1f) {
    // X.690 8.1.2.4: high tag number form, base 128; DER forbids a leading 0x80 octet and using
    // this form for numbers below 31.
    tagNumber = 0;
    for (let count = 0; ; count++) {
      if (position >= limit) throw new CertificateParseError(`DER tag at offset ${offset} is truncated`);
      const octet = der[position++]!;
      if (count === 0 && octet === 0x80) throw new CertificateParseError(`DER tag at offset ${offset} is not minimally encoded`);
      if (count === 3) throw new CertificateParseError(`DER tag number at offset ${offset} is too large`);
      tagNumber = tagNumber * 128 + (octet & 0x7f);
      if ((octet & 0x80) === 0) break;
    }
    if (tagNumber < 0x1f) throw new CertificateParseError(`DER tag at offset ${offset} is not minimally encoded`);
  } else if (tag === 0x00) {
    // X.690 8.1.5: the end-of-contents marker only exists in indefinite-length (BER) encodings.
    throw new CertificateParseError(`unexpected end-of-contents marker at offset ${offset}`);
  }
  const lengthOffset = position;
  if (position >= limit) throw new CertificateParseError(`DER length at offset ${lengthOffset} is missing`);
  const first = der[position++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else if (first === 0x80) {
    throw new CertificateParseError(`indefinite DER length at offset ${lengthOffset}`);
  } else {
    const count = first & 0x7f;
    // Four length octets already describe 4 GiB; more can only be hostile.
    if (count > 4) throw new CertificateParseError(`DER length at offset ${lengthOffset} uses ${count} octets`);
    if (position + count > limit) throw new CertificateParseError(`DER length at offset ${lengthOffset} is truncated`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[position++]!;
    // X.690 10.1: the length must use the fewest octets (no long form below 128, no leading zero).
    if (length < 0x80 || der[lengthOffset + 1] === 0) {
      throw new CertificateParseError(`DER length at offset ${lengthOffset} is not minimally encoded`);
    }
  }
  const end = position + length;
  if (end > limit) {
    throw new CertificateParseError(
      limit === der.length
        ? `DER length at offset ${lengthOffset} exceeds input`
        : `DER length at offset ${lengthOffset} exceeds the enclosing element`,
    );
  }
  return { tag, tagNumber, constructed: (tag & 0x20) !== 0, start: offset, contentStart: position, end };
}

/**
 * Checks that `der[start, end)` is a sequence of well-formed DER elements, descending into every
 * constructed element (iteratively, at most {@link MAX_DER_DEPTH} levels) so that every length
 * in the tree is known to be consistent before any field is decoded.
 */
export function validateDerTree(der: Uint8Array, start: number, end: number): void {
  const ends: number[] = [end];
  let position = start;
  while (true) {
    while (position === ends[ends.length - 1]!) {
      ends.pop();
      if (ends.length === 0) return;
    }
    const element = readElement(der, position, ends[ends.length - 1]!);
    if (element.constructed) {
      if (ends.length > MAX_DER_DEPTH) {
        throw new CertificateParseError(`DER nesting deeper than ${MAX_DER_DEPTH} levels at offset ${position}`);
      }
      if (element.contentStart < element.end) ends.push(element.end);
      position = element.contentStart;
    } else {
      position = element.end;
    }
  }
}

/** Reads the element at `offset` and checks its first identifier octet. */
export function expectElement(
  der: Uint8Array,
  offset: number,
  limit: number,
  tag: number,
  what: string,
): DerElement {
  if (offset >= limit) throw new CertificateParseError(`${what} is missing at offset ${offset}`);
  // The tag first: "found tag 0x31" says more about a wrong structure than a length complaint.
  if (der[offset] !== tag || (tag & 0x1f) === 0x1f) {
    throw new CertificateParseError(`expected ${what} (tag 0x${hexByte(tag)}) at offset ${offset}, found tag 0x${hexByte(der[offset]!)}`);
  }
  return readElement(der, offset, limit);
}

/** `der[start, end)` as Latin-1: one octet, one character (U+0000-U+00FF). */
export function decodeLatin1(der: Uint8Array, start: number, end: number): string {
  if (Buffer.isBuffer(der)) return der.toString('latin1', start, end);
  let out = '';
  // Chunked so a 64 KiB value never exceeds the argument limit of apply.
  for (let i = start; i < end; i += 4096) {
    out += String.fromCharCode.apply(null, der.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return out;
}

/**
 * Dotted form of an OBJECT IDENTIFIER's content octets (X.690 8.19): base-128 sub-identifiers
 * without leading 0x80 octets, the first one split into two arcs.
 */
export function decodeObjectIdentifier(der: Uint8Array, start: number, end: number): string {
  if (start === end) throw new CertificateParseError(`empty OBJECT IDENTIFIER at offset ${start}`);
  if (der[end - 1]! & 0x80) throw new CertificateParseError(`OBJECT IDENTIFIER at offset ${start} is truncated`);
  let out = '';
  let position = start;
  while (position < end) {
    if (der[position] === 0x80) {
      throw new CertificateParseError(`OBJECT IDENTIFIER at offset ${start} is not minimally encoded`);
    }
    const subStart = position;
    let arc = 0;
    let octet: number;
    do {
      octet = der[position++]!;
      arc = arc * 128 + (octet & 0x7f);
    } while (octet & 0x80 && position - subStart < 7);
    if (octet & 0x80) {
      // Past 49 bits a double loses digits.
      const big = readBigArc(der, subStart, start);
      position = big.next;
      out += out === '' ? `2.${big.value - 80n}` : `.${big.value}`;
    } else if (out === '') {
      // X.690 8.19.4: the first sub-identifier is 40 * arc1 + arc2, arc1 in 0..2.
      out = arc < 40 ? '0.' + arc : arc < 80 ? '1.' + (arc - 40) : '2.' + (arc - 80);
    } else {
      out += '.' + arc;
    }
  }
  return out;
}

function readBigArc(der: Uint8Array, subStart: number, oidStart: number): { value: bigint; next: number } {
  let position = subStart;
  while (der[position]! & 0x80) position++;
  position++;
  // A bound keeps arcs cheap; 20 octets hold 140 bits (2.25 UUID arcs need 128).
  if (position - subStart > 20) {
    throw new CertificateParseError(`OBJECT IDENTIFIER at offset ${oidStart} has a sub-identifier longer than 20 octets`);
  }
  let value = 0n;
  for (let i = subStart; i < position; i += 7) {
    const stop = Math.min(position, i + 7);
    let chunk = 0;
    for (let j = i; j < stop; j++) chunk = chunk * 128 + (der[j]! & 0x7f);
    value = (value << BigInt(7 * (stop - i))) | BigInt(chunk);
  }
  return { value, next: position };
}
