#!/usr/bin/python3
"""make-corpus.py - regenerate the fuzzers' fixed certificates and seed corpora.

    /usr/bin/python3 tests/fuzz/make-corpus.py [--check]

Writes tests/fuzz/keys/*.pem (certificates only: the private keys live in
memory while this runs and are thrown away) and tests/fuzz/corpus/<harness>/*.
The seeds are small valid and near-valid inputs; the JWS seeds are signed by
the keys of those certificates, with iat = FUZZ_NOW (the fixed clock of
fuzz_common.h), so that fuzz_jws_verify reaches the signature check from the
first run. Run it again only when the formats change: new certificates
invalidate every signed seed, which is why all of them are made together.
Seeds named regress-* (inputs that once found a bug) are kept.

--check only verifies that every harness has a non-empty corpus directory.
--jwe (re)writes only the fuzz_jwe seeds: JWE made by python3-jwcrypto to
throwaway keys (fuzz_jwe makes its own keys at run time), so they need none
of the fixed certificates and can be remade alone.

Needs python3-cryptography (a dependency of python3-jwcrypto, installed by
scripts/install-deps). The signer here is deliberately independent of
libdance so that the seeds also test interoperability.
"""
import base64
import datetime
import hashlib
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "keys")
CORPUS = os.path.join(HERE, "corpus")

HARNESSES = ["fuzz_jws_parse", "fuzz_jws_verify", "fuzz_dns_uri", "fuzz_cert_names",
             "fuzz_tlsa", "fuzz_plugin_options", "fuzz_names", "fuzz_topics", "fuzz_token",
             "fuzz_cose", "fuzz_jwe"]

FUZZ_NOW = 1750000000          # must equal FUZZ_NOW in fuzz_common.h
DEV_EC = "dev1._device.acme.example"
DEV_ED = "dev2._device.acme.example"
DEV_RSA = "dev3._device.acme.example"
TOPIC = "devices/dev1/telemetry"  # must equal FUZZ_TOPIC in fuzz_common.h
AUDIENCE = "mqtt://broker.acme.example"  # must equal FUZZ_AUDIENCE in fuzz_token.c


def check():
    bad = [h for h in HARNESSES
           if not os.path.isdir(os.path.join(CORPUS, h)) or not os.listdir(os.path.join(CORPUS, h))]
    if bad:
        print("make-corpus: empty or missing corpus: " + ", ".join(bad), file=sys.stderr)
        return 1
    return 0


if len(sys.argv) > 1 and sys.argv[1] == "--check":
    sys.exit(check())

from cryptography import x509                                   # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402


# ------------------------------------------------------------ certificates

def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def ski(pub):
    return x509.SubjectKeyIdentifier.from_public_key(pub)


def cert(subject_key, cn, issuer_cert=None, issuer_key=None, ca=False, sans=None,
         raw_sans=None, serial=1):
    pub = subject_key.public_key()
    nb = datetime.datetime(2020, 1, 1)
    na = datetime.datetime(2119, 1, 1)
    b = (x509.CertificateBuilder().subject_name(name(cn))
         .issuer_name(issuer_cert.subject if issuer_cert else name(cn))
         .public_key(pub).serial_number(serial).not_valid_before(nb).not_valid_after(na)
         .add_extension(ski(pub), critical=False))
    if ca:
        b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                          False, False), critical=True))
    else:
        gns = [x509.DNSName(s) for s in (sans if sans is not None else [cn])]
        gns += raw_sans or []
        b = (b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                            critical=False))
        if gns:
            b = b.add_extension(x509.SubjectAlternativeName(gns), critical=False)
    signer = issuer_key or subject_key
    md = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return b.sign(signer, md)


def der(c):
    return c.public_bytes(serialization.Encoding.DER)


def spki(c):
    return c.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)


def tlsa_data(c, selector, mtype):
    data = der(c) if selector == 0 else spki(c)
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return data


# --------------------------------------------------------------------- JWS

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64(b):
    return base64.b64encode(b).decode()


def sign(alg, key, si):
    if alg.startswith("ES"):
        bits = {"ES256": (hashes.SHA256(), 32), "ES384": (hashes.SHA384(), 48),
                "ES512": (hashes.SHA512(), 66)}[alg]
        r, s = decode_dss_signature(key.sign(si, ec.ECDSA(bits[0])))
        return r.to_bytes(bits[1], "big") + s.to_bytes(bits[1], "big")
    if alg == "EdDSA":
        return key.sign(si)
    md = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[2:]]
    if alg.startswith("PS"):
        return key.sign(si, padding.PSS(mgf=padding.MGF1(md), salt_length=md.digest_size), md)
    return key.sign(si, padding.PKCS1v15(), md)


def jws(header, payload, alg=None, key=None, form="compact", sig=None, raw_header=None,
        extra=None):
    """header: dict (or raw_header text) for the protected header"""
    ph = b64u((raw_header if raw_header is not None else json.dumps(header, separators=(",", ":"))).encode())
    pl = b64u(payload)
    si = (ph + "." + pl).encode()
    if sig is None:
        sig = sign(alg, key, si)
    sg = b64u(sig)
    if form == "compact":
        return (ph + "." + pl + "." + sg).encode()
    doc = {"protected": ph, "payload": pl, "signature": sg}
    if extra:
        doc.update(extra)
    return json.dumps(doc, separators=(",", ":")).encode()


# -------------------------------------------------------------------- COSE

class Tag:
    def __init__(self, tag, item):
        self.tag, self.item = tag, item


class Raw:
    """Bytes put into the CBOR output as they are (hostile encodings)."""
    def __init__(self, data):
        self.data = data


def cbor_head(major, v):
    if v < 24:
        return bytes([major << 5 | v])
    for ai, n in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if v < 1 << (8 * n):
            return bytes([major << 5 | ai]) + v.to_bytes(n, "big")
    raise ValueError(v)


def cbor(x):
    """A small CBOR encoder (definite lengths, shortest heads, dict order kept)."""
    if isinstance(x, Raw):
        return x.data
    if isinstance(x, Tag):
        return cbor_head(6, x.tag) + cbor(x.item)
    if isinstance(x, bool):
        return b"\xf5" if x else b"\xf4"
    if x is None:
        return b"\xf6"
    if isinstance(x, int):
        return cbor_head(0, x) if x >= 0 else cbor_head(1, -1 - x)
    if isinstance(x, bytes):
        return cbor_head(2, len(x)) + x
    if isinstance(x, str):
        return cbor_head(3, len(x.encode())) + x.encode()
    if isinstance(x, list):
        return cbor_head(4, len(x)) + b"".join(cbor(i) for i in x)
    if isinstance(x, dict):
        return cbor_head(5, len(x)) + b"".join(cbor(k) + cbor(v) for k, v in x.items())
    raise TypeError(x)


COSE_ALGS = {"ES256": -7, "ES384": -35, "ES512": -36, "EdDSA": -8, "PS256": -37, "RS256": -257}


def cose(prot, payload, alg=None, key=None, unprot=None, sig=None, tagged=True):
    """A COSE_Sign1: prot a dict (or Raw bytes of the protected header),
    signed over its Sig_structure unless sig is given."""
    pb = prot.data if isinstance(prot, Raw) else cbor(prot)
    if sig is None:
        sig = sign(alg, key, cbor(["Signature1", pb, b"", payload]))
    msg = [pb, unprot if unprot is not None else {}, payload, sig]
    return cbor(Tag(18, msg) if tagged else msg)


def cose_seeds(ec_key, ed_key, rsa_key, dev_rsa):
    """The fuzz_cose seeds: valid messages signed for the fixed RRset, and
    near-valid ones for each refusal."""
    pl = b"temp=21.5"
    full = {1: -7, 4: DEV_EC.encode(), 15: {6: FUZZ_NOW, 7: b"j1", "topic": TOPIC}}
    return {
        "es256-tagged": cose(full, pl, "ES256", ec_key),
        "es256-untagged": cose(full, pl, "ES256", ec_key, tagged=False),
        "es256-crit": cose({1: -7, 2: [15], 4: DEV_EC.encode(), 15: {"topic": TOPIC}}, pl,
                           "ES256", ec_key),
        "eddsa": cose({1: -8, 4: DEV_ED.encode(), 15: {6: FUZZ_NOW}}, b"", "EdDSA", ed_key),
        "rs256-x5chain": cose({1: -257, 4: DEV_RSA.encode(), 33: der(dev_rsa)}, pl, "RS256",
                              rsa_key),
        "ps256-x5chain-array": cose({1: -37, 4: DEV_RSA.encode(), 33: [der(dev_rsa)]}, pl,
                                    "PS256", rsa_key),
        "bad-sig": cose({1: -7, 4: DEV_EC.encode()}, pl, sig=b"\x01" * 64),
        "alg-unprotected": cose({4: DEV_EC.encode()}, pl, unprot={1: -7}, sig=b"\x02" * 64),
        "kid-unprotected": cose({1: -7}, pl, unprot={4: DEV_EC.encode()}, sig=b"\x03" * 64),
        "kid-not-utf8": cose({1: -7, 4: b"\xff\xfe.example"}, pl, sig=b"\x04" * 64),
        "crit-unknown": cose({1: -7, 2: [99], 4: DEV_EC.encode(), 99: 1}, pl,
                             sig=b"\x05" * 64),
        "dup-key": cose(Raw(b"\xa3\x01\x26\x04" + cbor(DEV_EC.encode()) + b"\x01\x26"), pl,
                        sig=b"\x06" * 64),
        "indefinite-payload": cbor(Tag(18, Raw(b"\x84" + cbor(cbor({1: -7, 4: DEV_EC.encode()}))
                                             + b"\xa0\x5f\x41x\xff" + cbor(b"\x07" * 64)))),
        "deep": cose({1: -7, 4: DEV_EC.encode()}, pl, unprot={100: [[[[[[[1]]]]]]]},
                     sig=b"\x08" * 64),
        "trailing": cose({1: -7, 4: DEV_EC.encode()}, pl, "ES256", ec_key) + b"\x00",
        "tag-98": cbor(Tag(98, [b"", {}, pl, []])),
        "detached": cose({1: -7, 4: DEV_EC.encode()}, None, sig=b"\x09" * 64),
        "x5chain-nine": cose({1: -257, 4: DEV_RSA.encode(), 33: [der(dev_rsa)] * 9}, pl,
                             sig=b"\x0a" * 256),
        "float-iat": cose({1: -7, 4: DEV_EC.encode(), 15: {6: Raw(b"\xfb\x41\xda\x13\xb8\x60\x00\x00\x00")}},
                          pl, "ES256", ec_key),
    }


# ------------------------------------------------------------------- write

def write(harness, fname, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data)


def jwe_seeds():
    """fuzz_jwe: JWE of every accepted alg/enc and form, and near misses."""
    from jwcrypto import jwe as jj, jwk as jk
    d = os.path.join(CORPUS, "fuzz_jwe")
    for f in os.listdir(d) if os.path.isdir(d) else []:
        if not f.startswith("regress-"):
            os.remove(os.path.join(d, f))
    keys = {"rsa": jk.JWK.generate(kty="RSA", size=2048),
            "p256": jk.JWK.generate(kty="EC", crv="P-256"),
            "p384": jk.JWK.generate(kty="EC", crv="P-384")}
    x5u = "dns://backend.acme.example?type=TLSA"
    n = 0
    for shape, alg in (("rsa", "RSA-OAEP-256"), ("p256", "ECDH-ES"),
                       ("p384", "ECDH-ES+A256KW"), ("p256", "ECDH-ES+A256KW")):
        for enc in ("A256GCM", "A256CBC-HS512"):
            e = jj.JWE(b'{"temp":21.5}', protected=json.dumps(
                {"alg": alg, "enc": enc, "x5u": x5u}))
            e.add_recipient(keys[shape].public())
            write("fuzz_jwe", "%s-%s-%s-compact" % (shape, alg, enc),
                  e.serialize(compact=True))
            n += 1
    e = jj.JWE(b'{"alg":"RS256"}', protected=json.dumps(
        {"alg": "RSA-OAEP-256", "enc": "A256CBC-HS512", "typ": "JWE", "x5u": x5u}))
    e.add_recipient(keys["rsa"].public())
    flat = e.serialize()
    write("fuzz_jwe", "prototype-flattened", flat)
    doc = json.loads(flat)
    general = {"protected": doc["protected"],
               "recipients": [{"encrypted_key": doc["encrypted_key"]}],
               "iv": doc["iv"], "ciphertext": doc["ciphertext"], "tag": doc["tag"]}
    write("fuzz_jwe", "general-one-recipient", json.dumps(general))
    general["recipients"].append({"encrypted_key": doc["encrypted_key"],
                                  "header": {"kid": "k"}})
    write("fuzz_jwe", "general-two-recipients", json.dumps(general))
    e = jj.JWE(b"x", protected=json.dumps({"alg": "ECDH-ES", "enc": "A256GCM"}))
    e.add_recipient(keys["p256"].public())
    write("fuzz_jwe", "ecdh-es-unprotected-epk", e.serialize())
    for name, hdr in (("zip", {"alg": "RSA-OAEP-256", "enc": "A256GCM", "zip": "DEF"}),
                      ("crit", {"alg": "RSA-OAEP-256", "enc": "A256GCM", "crit": ["x"]}),
                      ("cty-jwe", {"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWE"}),
                      ("rsa1_5", {"alg": "RSA1_5", "enc": "A128CBC-HS256"}),
                      ("epk-p521", {"alg": "ECDH-ES", "enc": "A256GCM",
                                    "epk": {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}})):
        write("fuzz_jwe", "hdr-" + name, ".".join(
            [b64u(json.dumps(hdr).encode()), "", b64u(b"\0" * 12), b64u(b"ct"),
             b64u(b"\0" * 16)]))
        n += 1
    write("fuzz_jwe", "truncated", "eyJhbGciOiJSU0EtT0FFUC0yNTYifQ.AAAA.AAAA")
    return n


def main():
    os.makedirs(KEYS, exist_ok=True)
    # Seeds named regress-* are inputs that once found a bug: kept.
    for h in os.listdir(CORPUS) if os.path.isdir(CORPUS) else []:
        for f in os.listdir(os.path.join(CORPUS, h)):
            if not f.startswith("regress-"):
                os.remove(os.path.join(CORPUS, h, f))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert(ca_key, "DANCE fuzz CA", ca=True, serial=100)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    dev_ec = cert(ec_key, DEV_EC, ca, ca_key, serial=101)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    dev_ed = cert(ed_key, DEV_ED, ca, ca_key, serial=102)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    dev_rsa = cert(rsa_key, DEV_RSA, ca, ca_key, serial=103)
    for fname, c in (("ca.pem", ca), ("dev-ec.pem", dev_ec), ("dev-ed.pem", dev_ed),
                     ("dev-rsa.pem", dev_rsa)):
        with open(os.path.join(KEYS, fname), "wb") as f:
            f.write(c.public_bytes(serialization.Encoding.PEM))

    # ---- JWS: parse and verify share the seeds
    pl = b'{"temp":21.5}'
    full = {"alg": "ES256", "kid": DEV_EC, "iat": FUZZ_NOW, "jti": "j1", "topic": TOPIC}
    seeds = {
        "es256-compact": jws({"alg": "ES256", "kid": DEV_EC}, pl, "ES256", ec_key),
        "es256-full-header": jws(full, pl, "ES256", ec_key),
        "es256-flattened": jws({"alg": "ES256", "kid": DEV_EC,
                                "x5u": "dns:" + DEV_EC + "?type=TLSA", "iat": FUZZ_NOW},
                               pl, "ES256", ec_key, form="json", extra={"header": {"x": 1}}),
        "es256-x5u-only": jws({"alg": "ES256",
                               "x5u": "dns://127.0.0.1/" + DEV_EC + "?type=TLSA;class=IN"},
                              pl, "ES256", ec_key),
        "es256-kid-uri": jws({"alg": "ES256", "kid": "dns://" + DEV_EC + "?type=52"},
                             pl, "ES256", ec_key),
        "es256-crit": jws({"alg": "ES256", "kid": DEV_EC, "iat": FUZZ_NOW, "topic": TOPIC,
                           "crit": ["iat", "topic"]}, pl, "ES256", ec_key),
        "es256-x5c-ee": jws({"alg": "ES256", "kid": DEV_EC, "x5c": [b64(der(dev_ec))]},
                            pl, "ES256", ec_key),
        "es256-x5c-ta": jws({"alg": "ES256", "kid": DEV_EC,
                             "x5c": [b64(der(dev_ec)), b64(der(ca))]}, pl, "ES256", ec_key),
        "eddsa-compact": jws({"alg": "EdDSA", "kid": DEV_ED, "iat": FUZZ_NOW}, b"hello",
                             "EdDSA", ed_key),
        "eddsa-flattened": jws({"alg": "EdDSA", "kid": DEV_ED}, b"", "EdDSA", ed_key,
                               form="json"),
        "rs256-x5c": jws({"alg": "RS256", "kid": DEV_RSA, "x5c": [b64(der(dev_rsa))]},
                         pl, "RS256", rsa_key),
        "ps256-x5c-ta": jws({"alg": "PS256", "kid": DEV_RSA,
                             "x5c": [b64(der(dev_rsa)), b64(der(ca))]}, pl, "PS256", rsa_key),
        "rs512-x5c-json": jws({"alg": "RS512", "kid": DEV_RSA, "x5c": [b64(der(dev_rsa))]},
                              pl, "RS512", rsa_key, form="json"),
        # near-valid
        "bad-sig": jws({"alg": "ES256", "kid": DEV_EC}, pl, sig=b"\x01" * 64),
        "es384-with-p256": jws({"alg": "ES384", "kid": DEV_EC}, pl, sig=b"\x02" * 96),
        "stale-iat": jws({"alg": "ES256", "kid": DEV_EC, "iat": FUZZ_NOW - 3600}, pl,
                         "ES256", ec_key),
        "topic-mismatch": jws({"alg": "ES256", "kid": DEV_EC, "topic": "other/topic"}, pl,
                              "ES256", ec_key),
        "alg-none": jws({"alg": "none", "kid": DEV_EC}, pl, sig=b"x"),
        "alg-hs256": jws({"alg": "HS256", "kid": DEV_EC}, pl, sig=b"x" * 32),
        "crit-unknown": jws({"alg": "ES256", "kid": DEV_EC, "exp": 1, "crit": ["exp"]},
                            pl, sig=b"\x03" * 64),
        "b64-false": jws({"alg": "ES256", "kid": DEV_EC, "b64": False, "crit": ["b64"]},
                         pl, sig=b"\x04" * 64),
        "kid-x5u-disagree": jws({"alg": "ES256", "kid": DEV_EC,
                                 "x5u": "dns:" + DEV_ED + "?type=TLSA"}, pl, sig=b"\5" * 64),
        "outside-allowed": jws({"alg": "ES256", "kid": "dev1._device.evil.example"}, pl,
                               "ES256", ec_key),
        "dup-member": jws(None, pl, sig=b"\6" * 64,
                          raw_header='{"alg":"ES256","kid":"%s","kid":"x.example"}' % DEV_EC),
        "nul-escape": jws(None, pl, sig=b"\7" * 64,
                          raw_header='{"alg":"ES256","kid":"%s\\u0000.evil"}' % DEV_EC),
        "x5c-garbage": jws({"alg": "ES256", "kid": DEV_EC, "x5c": ["AAAA"]}, pl,
                           sig=b"\x08" * 64),
        "no-sender": jws({"alg": "ES256"}, pl, sig=b"\x09" * 64),
        "general-json": json.dumps({"payload": "e30", "signatures": []}).encode(),
        "jwe-like": b"a.b.c.d.e",
        "compact-trailing-newline": jws({"alg": "EdDSA", "kid": DEV_ED}, b"x", "EdDSA",
                                        ed_key) + b"\n",
    }
    for k, v in seeds.items():
        write("fuzz_jws_verify", k, v)
        write("fuzz_jws_parse", k, v)

    # ---- COSE_Sign1
    for k, v in cose_seeds(ec_key, ed_key, rsa_key, dev_rsa).items():
        write("fuzz_cose", k, v)

    # ---- tokens: "username\npassword"
    def claims(**kw):
        c = {"aud": AUDIENCE, "iat": FUZZ_NOW, "exp": FUZZ_NOW + 300, "jti": "t1"}
        c.update(kw)
        return json.dumps({k: v for k, v in c.items() if v is not None},
                          separators=(",", ":")).encode()

    def token(user, header, payload, alg=None, key=None, sig=None):
        return user.encode() + b"\n" + jws(header, payload, alg, key, sig=sig)

    jwt = {"typ": "JWT"}
    tokens = {
        "es256": token(DEV_EC, dict(jwt, alg="ES256", kid=DEV_EC), claims(), "ES256", ec_key),
        "eddsa-aud-array": token(DEV_ED, {"alg": "EdDSA", "kid": DEV_ED},
                                 claims(aud=["other", AUDIENCE], nbf=FUZZ_NOW - 10),
                                 "EdDSA", ed_key),
        "rs256-x5c": token(DEV_RSA, dict(jwt, alg="RS256", kid=DEV_RSA,
                                         x5c=[b64(der(dev_rsa))]), claims(), "RS256", rsa_key),
        "ps256-x5c-ta": token(DEV_RSA.upper() + ".", {"alg": "PS256", "kid": DEV_RSA,
                                                      "x5c": [b64(der(dev_rsa)), b64(der(ca))]},
                              claims(jti="t2"), "PS256", rsa_key),
        "expired": token(DEV_EC, {"alg": "ES256", "kid": DEV_EC},
                         claims(iat=FUZZ_NOW - 900, exp=FUZZ_NOW - 600), "ES256", ec_key),
        "too-long": token(DEV_EC, {"alg": "ES256", "kid": DEV_EC},
                          claims(exp=FUZZ_NOW + 86400), "ES256", ec_key),
        "future": token(DEV_EC, {"alg": "ES256", "kid": DEV_EC},
                        claims(iat=FUZZ_NOW + 600, exp=FUZZ_NOW + 900), "ES256", ec_key),
        "wrong-aud": token(DEV_EC, {"alg": "ES256", "kid": DEV_EC}, claims(aud="x"),
                           "ES256", ec_key),
        "user-mismatch": token(DEV_ED, {"alg": "ES256", "kid": DEV_EC}, claims(),
                               "ES256", ec_key),
        "typ-jose": token(DEV_EC, {"alg": "ES256", "kid": DEV_EC, "typ": "JOSE"}, claims(),
                          "ES256", ec_key),
        "outside": token("d._device.evil.example", {"alg": "ES256",
                                                    "kid": "d._device.evil.example"},
                         claims(), "ES256", ec_key),
        "bad-sig": token(DEV_EC, {"alg": "ES256", "kid": DEV_EC}, claims(), sig=b"\1" * 64),
        "no-jti": token(DEV_EC, {"alg": "ES256", "kid": DEV_EC}, claims(jti=None),
                        "ES256", ec_key),
        "claims-array": token(DEV_EC, {"alg": "ES256", "kid": DEV_EC}, b"[1,2]",
                              "ES256", ec_key),
        "no-user": b"\n" + jws({"alg": "ES256", "kid": DEV_EC}, claims(), "ES256", ec_key),
    }
    for k, v in tokens.items():
        write("fuzz_token", k, v)

    # ---- DNS URIs
    for i, u in enumerate([
            "dns:" + DEV_EC + "?type=TLSA",
            "dns://192.0.2.1/" + DEV_EC + "?type=TLSA;class=IN",
            "dns://[2001:db8::1]:53/" + DEV_EC + "?TYPE=52;CLASS=1",
            "dns://" + DEV_EC + "?type=tlsa",
            "DNS:dev1%2E_device.acme.example.?type=TLSA",
            "dns:%64ev1._device.acme.example?class=IN;type=TLSA",
            "dns:" + DEV_EC + "?type=A",
            "dns:" + DEV_EC,
            "dns:" + DEV_EC + "?type=TLSA#frag",
            "dns://host:53?type=TLSA",
            "dns:a%00b.example?type=TLSA",
            "dns:" + "a" * 63 + "." + "b" * 63 + ".example?type=TLSA",
            "https://example.com/key.pem"]):
        write("fuzz_dns_uri", "uri-%02d" % i, u)

    # ---- certificates (DER)
    for fname, c in (("ca", ca), ("dev-ec", dev_ec), ("dev-ed", dev_ed), ("dev-rsa", dev_rsa)):
        write("fuzz_cert_names", fname, der(c))
    k = ec.generate_private_key(ec.SECP256R1())
    odd = [
        ("many-sans", ["A.Example.COM", "a.example.com.", "b.example.com", "*.example.com",
                       "_mqtt.dev.example", "x_y.example", "-a.example"], None),
        ("other-gns", [DEV_EC], [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1")),
                                 x509.RFC822Name("a@example.com"),
                                 x509.UniformResourceIdentifier("dns:" + DEV_EC + "?type=TLSA")]),
        ("long-name", [("a" * 63 + ".") * 3 + "a" * 61, ("a" * 63 + ".") * 4 + "a"], None),
        ("no-san", [], None),
    ]
    for fname, sans, raw in odd:
        write("fuzz_cert_names", fname, der(cert(k, "odd", ca, ca_key, sans=sans,
                                                 raw_sans=raw, serial=200)))

    # ---- TLSA: text mode (flag byte 0x00 | options) and binary mode (bit 0)
    def tlsa_text(u, s, m, c):
        return "%d %d %d %s" % (u, s, m, tlsa_data(c, s, m).hex().upper())

    # flags: bit0 binary, bits1-2 purpose, bit3 name check, bit4 no EE name
    # checks, bit5 chain, bits6-7 leaf (0 ec, 1 ed, 2 rsa, 3 ca)
    n = 0
    for flags, recs in (
            (0x00 | 0x08, [(3, 1, 1, dev_ec)]),
            (0x02 | 0x08 | 0x20, [(2, 0, 1, ca), (3, 1, 1, dev_rsa)]),
            (0x40, [(3, 0, 0, dev_ed), (3, 1, 2, dev_ed)]),
            (0x80 | 0x10 | 0x20, [(1, 1, 1, dev_rsa), (0, 0, 2, ca)]),
            (0x00, [(3, 1, 0, dev_ec)]),
            (0xC0, [(2, 1, 1, ca)])):
        text = "\n".join(tlsa_text(u, s, m, c) for u, s, m, c in recs)
        write("fuzz_tlsa", "text-%02d" % n, bytes([flags]) + text.encode())
        binrec = b"".join(struct.pack(">BBBH", u, s, m, len(tlsa_data(c, s, m)))
                          + tlsa_data(c, s, m) for u, s, m, c in recs)
        write("fuzz_tlsa", "bin-%02d" % n, bytes([flags | 1]) + binrec)
        n += 1
    for i, t in enumerate(["3 1 1 ab cd\tEF 01", "255 255 255 00", "3 1 1 abc",
                           "256 1 1 00", "3 1 1", "3 1 1 zz", " 3  1  1  0A0B "]):
        write("fuzz_tlsa", "near-%02d" % i, b"\x00" + t.encode())

    # ---- plugin options: "key=value" lines
    opts = [
        "allowed_domains=acme.example",
        "allowed_domains=acme.example, other.example\ncafile=/etc/ca.pem\n"
        "resolver=127.0.0.1@5353,::1\ntrust_anchor=/etc/root.ds\nlookup_timeout_ms=1500\n"
        "identity_source=username\ntlsa_owner=_mqtt\nfallback=defer\nconnect_budget_ms=0\n"
        "cache_size=100\nmin_ttl=10\nmax_ttl=600\nnegative_ttl=30\nfailure_ttl=5\n"
        "revalidate_interval=0\nstats_interval=10\nworker_threads=4\nqueue_size=64",
        "allowed_domains=acme.example\ndns_transport=tls\ntls_auth_name=dns.example\n"
        "resolver=192.0.2.53@853",
        "allowed_domains=acme.example\nmin_ttl=700\nmax_ttl=600",
        "allowed_domains=a,,b",
        "allowed_domains=acme.example\nallowed_domains=acme.example",
        "allowed_domains=acme.example\nresolver=localhost",
        "allowed_domains=acme.example\nresolver=[::1]@53\nqueue_size=18446744073709551617",
        "allowed_domains=acme.example\ntls_auth_name=x",
        "bogus=1",
        "cafile",
        "allowed_domains=acme.example\nverify_topics=sensors/#, gw/+/data\n"
        "verified_prefix=verified/\nrejected_prefix=rejected/\nmax_payload=4096\n"
        "require_iat=true\nmax_skew=60\nreplay_window=600\nrequire_jti=true\n"
        "require_topic_binding=true\nverify_threads=2\nverify_queue_size=100",
        "allowed_domains=acme.example\nreplay_window=100\nmax_skew=60\nverify_topics=#",
        "allowed_domains=acme.example\nverify_topics=a/#/b",
        "allowed_domains=acme.example\nverify_topics=a/#\nverified_prefix=a/v/\n"
        "rejected_prefix=a/",
        "allowed_domains=acme.example\ntoken_auth=on\ntoken_audience=mqtt://broker\n"
        "token_max_lifetime=300\ntoken_disconnect_on_expiry=on",
        "allowed_domains=acme.example\ntoken_auth=on",
        "allowed_domains=acme.example\nverify_topics=devices/#\n"
        "forwarders=Edge1._broker.acme.example., edge2._broker.acme.example\n"
        "forwarded_prefix=hub/forwarded/",
        "allowed_domains=acme.example\nverify_topics=+/#\n"
        "forwarders=edge1._broker.acme.example,,x\nforwarded_prefix=verified/f/",
    ]
    for i, o in enumerate(opts):
        write("fuzz_plugin_options", "opts-%02d" % i, o)

    # ---- names: first line the allow-list, then names
    names = [
        "acme.example, other.example\n" + DEV_EC + "\nDEV1._Device.ACME.example.\nbadacme.example\n"
        "acme.example\nexample",
        "example.com\na.example.com\nbadexample.com\n*.example.com\na..example.com\n.",
        "a\n" + ("a" * 63 + ".") * 3 + "a" * 61 + "\n" + "b" * 64 + ".a\n_mqtt.a\na_b.a",
        " x.example ,\ty.example\nx.example\ny.example.\nz.example",
        ",\nacme.example",
    ]
    for i, s in enumerate(names):
        write("fuzz_names", "names-%02d" % i, s)

    # ---- topic filters: first line the filter list, then topics
    topics = [
        "sensors/#, gw/+/data\nsensors/dev1/temp\ngw/g1/data\ngw/g1/other\nsensors\n"
        "$SYS/x\nplain/ping",
        "+/+/#\na/b\na\na/b/c/d\n$SYS/broker/dance/x",
        "#\n$x\nx\n/\n//\na//b",
        "a/+\na\na/\na/b\na/b/c",
        "$SYS/#, +/x\n$SYS/broker\n$SYS\n$x/x\ny/x",
        "a/b+/c\nx",
        "a/#/b\nx",
        " ,a\na",
        "verified/",
        "a/+,b/#,\tc ,d/e/f\nb\nc\nd/e/f\nd/e",
    ]
    for i, s in enumerate(topics):
        write("fuzz_topics", "topics-%02d" % i, s)
    jwe_seeds()
    return check()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--jwe":
        jwe_seeds()
        sys.exit(check())
    sys.exit(main())
