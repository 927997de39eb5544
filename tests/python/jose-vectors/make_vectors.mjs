// make_vectors.mjs - signed messages from an independent JOSE
// implementation (npm jose) for tests/python/test_dance.py. Run once by
// hand; the output (vectors.json and the *.pub.pem keys) is committed, so
// the tests need no network and no node:
//
//   npm install jose@6.2.18 && node make_vectors.mjs   (in a scratch copy)
//
// Each vector: the JWS, the sender, the payload, the topic it is bound to
// (if any), the public key file (SPKI PEM: the tests publish it as a
// TLSA 3 1 0 record) and what a DANCE verifier must say ("verified" or a
// status name of include/dance/status.h).
import * as jose from 'jose';
import { writeFileSync } from 'node:fs';

const ORG = 'acme.example';
const enc = new TextEncoder();
const vectors = [];

async function key(alg, opts = {}) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true, ...opts });
  return { publicKey, privateKey, spki: await jose.exportSPKI(publicKey) };
}

function keyFile(label, spki) {
  const file = `${label}.pub.pem`;
  writeFileSync(file, spki);
  return file;
}

async function compact(label, alg, k, header, payload, expect, topic) {
  const sender = `${label}._device.${ORG}`;
  const jws = await new jose.CompactSign(enc.encode(payload))
    .setProtectedHeader({ alg, kid: sender, ...header })
    .sign(k.privateKey);
  vectors.push({ label, alg, sender, serialization: 'compact', message: jws, payload,
                 topic: topic ?? null, key: keyFile(label, k.spki), expect });
}

// Every algorithm DANCE accepts, bound to a topic.
for (const [label, alg, opts] of [
  ['jose-es256', 'ES256'], ['jose-es384', 'ES384'], ['jose-es512', 'ES512'],
  ['jose-rs256', 'RS256', { modulusLength: 2048 }],
  ['jose-ps384', 'PS384', { modulusLength: 3072 }],
  ['jose-eddsa', 'EdDSA', { crv: 'Ed25519' }],
]) {
  const k = await key(alg, opts);
  const topic = `sensors/${label}/temp`;
  await compact(label, alg, k, { topic }, `{"t":21.5,"from":"${label}"}`, 'verified', topic);
}

// The DANCE MQTT prototype's form: flattened JSON, sender in x5u only
// (dns://NAME?type=TLSA), an unprotected header beside it.
{
  const label = 'jose-flat';
  const sender = `${label}._device.${ORG}`;
  const k = await key('RS256', { modulusLength: 2048 });
  const jws = await new jose.FlattenedSign(enc.encode('flattened hello'))
    .setProtectedHeader({ alg: 'RS256', x5u: `dns://${sender}?type=TLSA` })
    .setUnprotectedHeader({ note: 'never used for policy' })
    .sign(k.privateKey);
  vectors.push({ label, alg: 'RS256', sender, serialization: 'flattened',
                 message: JSON.stringify(jws), payload: 'flattened hello', topic: null,
                 key: keyFile(label, k.spki), expect: 'verified' });
}

// Refusals a conforming JOSE library will happily produce.
{
  const k = await key('ES256');
  await compact('jose-stale', 'ES256', k, { iat: 1000000000 }, 'from 2001', 'stale');
  await compact('jose-x5u-disagrees', 'ES256', k,
                { x5u: `dns:other._device.${ORG}?type=TLSA` }, 'two names', 'bad_sender');
  await compact('jose-jwt-typ', 'ES256', k, { typ: 'JWT' }, '{"sub":"x"}', 'typ');
  const label = 'jose-b64-false';
  const sender = `${label}._device.${ORG}`;
  const jws = await new jose.FlattenedSign(enc.encode('raw'))
    .setProtectedHeader({ alg: 'ES256', kid: sender, b64: false, crit: ['b64'] })
    .sign(k.privateKey);
  vectors.push({ label, alg: 'ES256', sender, serialization: 'flattened',
                 message: JSON.stringify(jws), payload: 'raw', topic: null,
                 key: keyFile(label, k.spki), expect: 'unsupported' });
}

writeFileSync('vectors.json', JSON.stringify({
  generator: 'npm jose 6.2.18 (MIT licence, https://github.com/panva/jose)',
  script: 'tests/python/jose-vectors/make_vectors.mjs',
  vectors,
}, null, 1) + '\n');
console.log(`${vectors.length} vectors`);
