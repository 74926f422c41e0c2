/**
 * Numbers and tuples printed exactly as Python 3 prints them (`repr(float)`, `str(tuple)`), so a
 * submission CSV is byte-for-byte what the challenge's Python kit writes.
 */

/**
 * `repr(x)` of a Python float: the shortest digits that read back to the same double (JavaScript
 * picks the same digits), laid out Python's way — always a '.0' on whole numbers, and exponent
 * notation with a signed, at least two-digit exponent when the decimal point would sit more than
 * 16 places right of the first digit or 4 or more zeros left of it (`1e-05`, `1e+16`, `0.0001`).
 */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest round-trip digits.
  const [mantissa, expText] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const exp10 = Number(expText);
  const pointAt = exp10 + 1; // digits d1 d2 ... with the decimal point after `pointAt` of them
  if (pointAt <= -4 || pointAt > 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = String(Math.abs(exp10)).padStart(2, '0');
    return `${sign}${m}e${exp10 < 0 ? '-' : '+'}${e}`;
  }
  if (pointAt <= 0) return `${sign}0.${'0'.repeat(-pointAt)}${digits}`;
  if (pointAt >= digits.length) return `${sign}${digits}${'0'.repeat(pointAt - digits.length)}.0`;
  return `${sign}${digits.slice(0, pointAt)}.${digits.slice(pointAt)}`;
}

/** `str(tuple_of_ints)`: `(512, 512, 134)`; a one-element tuple keeps Python's trailing comma. */
export function pyIntTupleRepr(values: readonly number[]): string {
  if (values.length === 1) return `(${values[0]},)`;
  return `(${values.join(', ')})`;
}
