// cose_js_interop.js - sign and verify COSE_Sign1 messages with npm's
// cose-js (an independent implementation), for test_cose_interop.py.
//
//   node cose_js_interop.js sign ALG KEY.pem KID < payload > message
//   node cose_js_interop.js verify ALG PUB.pem < message > payload
//
// Keys are PEM files as `dance keygen` writes them; cose-js wants JWK-like
// components for EC and PSS, PEM for RS256. The module is found through
// NODE_PATH. Exit 0 on success, 1 when verification fails, 2 on errors.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const cose = require('cose-js');

function readStdin () {
  return fs.readFileSync(0);
}

function b64u (s) {
  return Buffer.from(s, 'base64url');
}

function signer (alg, pem) {
  if (alg === 'RS256') {
    return { key: pem };
  }
  const jwk = crypto.createPrivateKey(pem).export({ format: 'jwk' });
  if (alg.startsWith('ES')) {
    return { key: { d: b64u(jwk.d) } };
  }
  return {
    key: {
      n: b64u(jwk.n), e: parseInt(b64u(jwk.e).toString('hex'), 16), d: b64u(jwk.d),
      p: b64u(jwk.p), q: b64u(jwk.q), dp: b64u(jwk.dp), dq: b64u(jwk.dq), qi: b64u(jwk.qi)
    }
  };
}

function verifier (alg, pem) {
  if (alg === 'RS256') {
    return { key: pem };
  }
  const jwk = crypto.createPublicKey(pem).export({ format: 'jwk' });
  if (alg.startsWith('ES')) {
    return { key: { x: b64u(jwk.x), y: b64u(jwk.y) } };
  }
  return { key: { n: b64u(jwk.n), e: parseInt(b64u(jwk.e).toString('hex'), 16) } };
}

async function main () {
  const [mode, alg, keyfile, kid] = process.argv.slice(2);
  const pem = fs.readFileSync(keyfile, 'utf8');
  if (mode === 'sign') {
    const msg = await cose.sign.create({ p: { alg, kid }, u: {} }, readStdin(),
      signer(alg, pem));
    process.stdout.write(msg);
    return 0;
  }
  if (mode === 'verify') {
    try {
      const payload = await cose.sign.verify(readStdin(), verifier(alg, pem));
      process.stdout.write(payload);
      return 0;
    } catch (e) {
      process.stderr.write('cose-js: ' + e.message + '\n');
      return 1;
    }
  }
  process.stderr.write('usage: cose_js_interop.js sign|verify ALG KEY [KID]\n');
  return 2;
}

main().then((rc) => { process.exitCode = rc; },
  (e) => { process.stderr.write('cose-js: ' + e.stack + '\n'); process.exitCode = 2; });
