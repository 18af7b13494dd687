/** PEM armour for a DER structure: base64 in 64-column lines, as openssl writes it. */
export function derToPem(derBytes: Buffer, label: string): string {
  const base64 = derBytes.toString('base64');
  let body = '';
  for (let i = 0; i < base64.length; i += 64) body += `${base64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}
