/**
 * The Luhn check digit of an IMEI body (3GPP TS 23.003 annex B): double every
 * second digit from the right of the 14-digit body, sum the digits, and take
 * what brings the sum to a multiple of ten.
 */
export function luhnCheckDigit(body: string): number {
  let sum = 0;
  // The rightmost body digit is doubled (it sits left of the check digit).
  for (let i = body.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = body.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}
