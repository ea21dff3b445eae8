/** Throwaway certificates for HTTPS and TLS tests and benches (openssl): self-signed, or a CA and what it signs. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  cert: Buffer;
  key: Buffer;
  certPath: string;
  keyPath: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

function read(certPath: string, keyPath: string): Pem {
  return { cert: readFileSync(certPath), key: readFileSync(keyPath), certPath, keyPath };
}

export function selfSignedCert(): Pem {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-tls-'));
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  openssl([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  return read(certPath, keyPath);
}

/** A certificate authority (self-signed, CA:true) that `signedBy` issues certificates from. */
export function makeCa(name: string): Pem {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-ca-'));
  const certPath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'ca.key');
  openssl([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return read(certPath, keyPath);
}

/**
 * A leaf certificate signed by `ca`: a server certificate for localhost and 127.0.0.1, or a client
 * certificate (extendedKeyUsage clientAuth) with the given common name.
 */
export function signedBy(ca: Pem, cn: string, use: 'server' | 'client'): Pem {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-leaf-'));
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  const csr = join(dir, 'tls.csr');
  const ext = join(dir, 'ext.cnf');
  writeFileSync(
    ext,
    use === 'server'
      ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'
      : 'extendedKeyUsage=clientAuth\n',
  );
  openssl(['req', '-new', ...EC, '-keyout', keyPath, '-out', csr, '-subj', `/CN=${cn}`]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.certPath,
    '-CAkey',
    ca.keyPath,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    ext,
    '-out',
    certPath,
  ]);
  return read(certPath, keyPath);
}
