// jose_interop.js - encrypt, decrypt, sign and verify JOSE messages with
// npm's jose (an independent implementation), for test_jose_interop.py.
//
//   node jose_interop.js encrypt ALG ENC PUB.pem RECIPIENT compact|json < plaintext
//   node jose_interop.js decrypt KEY.pem < jwe > plaintext
//   node jose_interop.js sign ALG KEY.pem KID compact|json [CTY] < payload > jws
//   node jose_interop.js verify ALG PUB.pem < jws > payload
//   node jose_interop.js open SIGNPUB.pem SIGNALG KEY.pem < message > plaintext
//
// encrypt puts every header parameter in the protected header (alg, enc,
// x5u dns://RECIPIENT?type=TLSA, and epk for ECDH-ES), as the DANCE
// prototype writes them. open reads an encrypted and signed message either
// way round: a JWE whose plaintext is a JWS (decrypted, then verified) or
// a JWS with cty JWE (verified, then its payload decrypted). Keys are PEM
// files (`dance keygen`, `openssl pkey -pubout`). The module is found
// through NODE_PATH. Exit 0 on success, 1 when decryption or verification
// fails, 2 on usage errors.
'use strict';

const fs = require('fs');
const crypto = require('crypto');
const jose = require('jose');

const te = new TextEncoder();

function readStdin () {
  return fs.readFileSync(0);
}

function publicKey (path) {
  return crypto.createPublicKey(fs.readFileSync(path));
}

function privateKey (path) {
  return crypto.createPrivateKey(fs.readFileSync(path));
}

function isJson (buf) {
  return buf.toString('utf8').trimStart().startsWith('{');
}

async function encrypt (alg, enc, pub, recipient, form, plaintext) {
  const header = { alg, enc, x5u: `dns://${recipient}?type=TLSA` };
  if (form === 'json') {
    const jwe = await new jose.FlattenedEncrypt(plaintext)
      .setProtectedHeader(header).encrypt(publicKey(pub));
    return JSON.stringify(jwe);
  }
  return new jose.CompactEncrypt(plaintext).setProtectedHeader(header)
    .encrypt(publicKey(pub));
}

async function decrypt (key, message) {
  if (isJson(message)) {
    const r = await jose.flattenedDecrypt(JSON.parse(message), privateKey(key));
    return { plaintext: Buffer.from(r.plaintext), header: r.protectedHeader };
  }
  const r = await jose.compactDecrypt(message.toString('utf8').trim(), privateKey(key));
  return { plaintext: Buffer.from(r.plaintext), header: r.protectedHeader };
}

async function sign (alg, key, kid, form, cty, payload) {
  const header = { alg, kid };
  if (cty) {
    header.cty = cty;
  }
  if (form === 'json') {
    header.x5u = `dns:${kid}?type=TLSA`;
    const jws = await new jose.FlattenedSign(payload).setProtectedHeader(header)
      .sign(privateKey(key));
    return JSON.stringify(jws);
  }
  return new jose.CompactSign(payload).setProtectedHeader(header).sign(privateKey(key));
}

async function verify (alg, pub, message) {
  const opts = { algorithms: [alg] };
  if (isJson(message)) {
    const r = await jose.flattenedVerify(JSON.parse(message), publicKey(pub), opts);
    return { payload: Buffer.from(r.payload), header: r.protectedHeader };
  }
  const r = await jose.compactVerify(message.toString('utf8').trim(), publicKey(pub), opts);
  return { payload: Buffer.from(r.payload), header: r.protectedHeader };
}

// isJwe - five compact parts, or JSON with a ciphertext member
function isJwe (buf) {
  if (isJson(buf)) {
    return 'ciphertext' in JSON.parse(buf);
  }
  return buf.toString('utf8').trim().split('.').length === 5;
}

async function open (signPub, signAlg, key, message) {
  if (isJwe(message)) {
    const inner = (await decrypt(key, message)).plaintext;
    return (await verify(signAlg, signPub, inner)).payload;
  }
  const v = await verify(signAlg, signPub, message);
  if (String(v.header.cty).toUpperCase() !== 'JWE') {
    throw new Error('a JWS without cty JWE');
  }
  return (await decrypt(key, v.payload)).plaintext;
}

async function main (argv) {
  const [cmd, ...a] = argv;
  let out;
  if (cmd === 'encrypt' && a.length === 5) {
    out = await encrypt(a[0], a[1], a[2], a[3], a[4], readStdin());
  } else if (cmd === 'decrypt' && a.length === 1) {
    out = (await decrypt(a[0], readStdin())).plaintext;
  } else if (cmd === 'sign' && (a.length === 4 || a.length === 5)) {
    out = await sign(a[0], a[1], a[2], a[3], a[4], readStdin());
  } else if (cmd === 'verify' && a.length === 2) {
    out = (await verify(a[0], a[1], readStdin())).payload;
  } else if (cmd === 'open' && a.length === 3) {
    out = await open(a[0], a[1], a[2], readStdin());
  } else {
    process.stderr.write('usage: see the top of jose_interop.js\n');
    return 2;
  }
  process.stdout.write(typeof out === 'string' ? te.encode(out) : out);
  return 0;
}

main(process.argv.slice(2)).then((rc) => { process.exitCode = rc; }, (e) => {
  process.stderr.write(`jose: ${e.code || e.name}: ${e.message}\n`);
  process.exitCode = 1;
});
