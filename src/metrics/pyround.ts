/**
 * Python's `round(x, ndigits)` for floats, so that volumes round exactly as the challenge kit's do.
 *
 * CPython rounds the exact binary value of `x` to `ndigits` decimals, ties to even. JavaScript's
 * `toFixed` also rounds the exact value but breaks ties away from zero, so the two only differ on
 * exact ties — and an exact tie is only possible when `x` has at most `ndigits + 1` binary fraction
 * digits (the tie value k + 0.5 at the last place needs 5^ndigits to divide out). Those are
 * detected exactly and rounded to even; everything else goes through `toFixed`.
 */
export function pyRound(x: number, ndigits: number): number {
  if (!Number.isInteger(ndigits) || ndigits < 0 || ndigits > 20) {
    throw new RangeError(`pyRound: ndigits must be a whole number in 0..20, got ${ndigits}`);
  }
  if (!Number.isFinite(x)) return x;
  // From 2^52 up every double is a whole number, so rounding to >= 0 decimals changes nothing
  // (and toFixed switches to exponent notation from 1e21 on).
  if (Math.abs(x) >= 2 ** 52) return x;
  const scaledByTwoPower = x * 2 ** (ndigits + 1); // exact: a power-of-two scale
  if (Number.isInteger(scaledByTwoPower)) {
    const longer = x.toFixed(ndigits + 1); // exact: x has at most ndigits + 1 binary fraction digits
    if (longer.endsWith('5')) {
      const lower = longer.slice(0, -1); // truncated toward zero
      const lastKept = lower.charCodeAt(lower.length - 1 - (lower.endsWith('.') ? 1 : 0)) - 48;
      if (lastKept % 2 === 0) return Number(lower.endsWith('.') ? lower.slice(0, -1) : lower);
      return Number(x.toFixed(ndigits)); // toFixed breaks the tie away from zero: the odd → even side
    }
  }
  return Number(x.toFixed(ndigits));
}
