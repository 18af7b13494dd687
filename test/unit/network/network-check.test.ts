/**
 * network check's pieces without sockets: which URLs it takes (and whether it sends SNI), and
 * how a report reads as a table (the e2e tests run it against real servers).
 */
import { formatNetworkCheck } from '../../../lab/cli-network-check';
import { NetworkCheckError, parseCheckTarget, type NetworkCheckReport } from '../../../lab/network-check';

describe('parseCheckTarget', () => {
  it('takes https URLs and bare host[:port], port 443 by default, SNI only for names', () => {
    expect(parseCheckTarget('https://mdm.example.test:8443/mdm')).toEqual({ url: 'https://mdm.example.test:8443', host: 'mdm.example.test', port: 8443, sni: 'mdm.example.test' });
    expect(parseCheckTarget('mdm.example.test')).toMatchObject({ host: 'mdm.example.test', port: 443, sni: 'mdm.example.test' });
    expect(parseCheckTarget('127.0.0.1:8443')).toMatchObject({ host: '127.0.0.1', port: 8443, sni: null });
    expect(parseCheckTarget('https://[::1]:8443')).toMatchObject({ host: '::1', port: 8443, sni: null });
  });

  it('refuses other schemes and what is not a URL, saying what it expects', () => {
    expect(() => parseCheckTarget('http://127.0.0.1:8443')).toThrow(/must be https:\/\/ \(got http\)/);
    expect(() => parseCheckTarget('https://exa mple')).toThrow(/is not a URL: expected https:\/\/host\[:port\]/);
    expect(() => parseCheckTarget('https://exa mple')).toThrow(NetworkCheckError);
  });
});

describe('formatNetworkCheck', () => {
  const report: NetworkCheckReport = {
    target: { url: 'https://mdm.example.test', host: 'mdm.example.test', port: 443, sni: 'mdm.example.test' },
    certificate: null,
    protocols: [
      { version: 'TLSv1.3', label: 'TLS 1.3', negotiated: false, noSni: false, refusal: 'tlsv1 alert protocol version (alert 70)' },
      { version: 'TLSv1.2', label: 'TLS 1.2', negotiated: true, noSni: true },
      { version: 'TLSv1.1', label: 'TLS 1.1', negotiated: true, noSni: false },
      { version: 'TLSv1', label: 'TLS 1.0', negotiated: false, noSni: false, refusal: 'unsupported protocol' },
    ],
    cipherSuites: [
      {
        version: 'TLSv1.2',
        label: 'TLS 1.2',
        serverPreference: false,
        suites: [
          { iana: 'TLS_RSA_WITH_AES_128_CBC_SHA', openssl: 'AES128-SHA', keyExchange: 'RSA', forwardSecrecy: false },
          { iana: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', openssl: 'ECDHE-RSA-AES128-GCM-SHA256', keyExchange: 'ECDH X25519', forwardSecrecy: true },
        ],
      },
      { version: 'TLSv1.1', label: 'TLS 1.1', serverPreference: null, suites: [{ iana: 'TLS_RSA_WITH_AES_128_CBC_SHA', openssl: 'AES128-SHA', keyExchange: 'RSA', forwardSecrecy: false }] },
    ],
    handshakes: 9,
  };

  it('marks No-SNI protocols with SSL Labs\' footnote and says when the order is the client\'s', () => {
    const text = formatNetworkCheck(report);
    expect(text).toContain('TLS check of https://mdm.example.test (SNI mdm.example.test)');
    expect(text).toMatch(/^ {2}TLS 1\.2 {2}Yes\*$/m);
    expect(text).toMatch(/^ {2}TLS 1\.1 {2}Yes$/m);
    expect(text).toContain('  (*) Server negotiated using No-SNI');
    expect(text).toContain('# TLS 1.2 (server has no preference: in the order offered)');
    expect(text).toContain('# TLS 1.1 (one suite)');
    expect(text).toMatch(/TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 +ECDH X25519 +FS +ECDHE-RSA-AES128-GCM-SHA256/);
    expect(text).toContain('(no handshake completed with every version offered: see Protocols)');
  });
});
