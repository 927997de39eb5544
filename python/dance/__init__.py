"""dance - verify and sign DANCE messages (JWS signed by DNS-named senders)
from Python, over the shared library libdance.so.0 (ctypes, no compiled
extension).

    import dance

    verifier = dance.Verifier(allowed_domains="acme.example")
    try:
        v = verifier.verify(message, topic="sensors/dev1/temp")
        print(v.sender, v.alg, v.payload)
    except dance.LookupFailed as e:      # DNS could not answer: try later
        ...
    except dance.NotVerified as e:       # refused, e.reason says why
        ...

The library is found by the environment variable DANCE_LIBRARY (a path),
else as "libdance.so.0" by the dynamic linker.

Errors: NotVerified(reason_code, text) for every refusal; reason_code is a
Status (an int: the library's stable number, status.h) and e.reason its
name ("bad_signature", ...). LookupFailed is the subclass for
Status.LOOKUP_FAILED alone, the one outcome that is not a verdict (DNS could
not be asked: timeout, SERVFAIL, network), so that a backend can retry it
and still catch everything else with one except NotVerified. Bad options
raise ValueError.

Threads: one Verifier may be shared by any number of threads. The C
verifier behind it is thread-safe: it shares its caches and gives each call
a resolver (getdns context) of its own from a pool, so calls run side by
side; ctypes releases the GIL for every C call, so a thread waiting on DNS
holds up no other. close() waits for calls in progress.
"""

import ctypes
import enum
import os
import threading
from dataclasses import dataclass
from typing import Iterable, Optional, Union

__all__ = ["Status", "Verified", "NotVerified", "LookupFailed", "Verifier",
           "verify_with_key", "sign", "decrypt", "is_jwe", "carries_jwe",
           "cert_identity", "library_path"]


class Status(enum.IntEnum):
    """dance_status (include/dance/status.h): the numbers are stable; the
    plugin publishes them as reason_code."""
    OK = 0
    MALFORMED = 1
    TOO_LARGE = 2
    BAD_ALG = 3
    UNSUPPORTED = 4
    NO_SENDER = 5
    BAD_SENDER = 6
    NOT_ALLOWED = 7
    STALE = 8
    TOPIC_MISMATCH = 9
    LOOKUP_FAILED = 10
    NO_RECORD = 11
    INSECURE = 12
    BOGUS = 13
    NO_USABLE_RECORD = 14
    CERT_MISMATCH = 15
    KEY_MISMATCH = 16
    BAD_SIGNATURE = 17
    REPLAY = 18
    RATE_LIMITED = 19
    TYP = 20
    INTERNAL = 21
    IDENTITY_MISMATCH = 22
    WRONG_AUDIENCE = 23
    EXPIRED = 24
    NOT_YET_VALID = 25
    LIFETIME = 26
    DECRYPT_FAILED = 27
    ENCRYPTED = 28

    @property
    def token(self) -> str:
        """The library's name for the code ("bad_signature", ...)."""
        return _lib.dance_status_name(int(self)).decode()


class NotVerified(Exception):
    """A message was refused: reason_code (Status), reason (its name),
    text (the library's reason, one printable line)."""

    def __init__(self, reason_code: int, text: str, sender: str = ""):
        try:
            code: Union[Status, int] = Status(reason_code)
        except ValueError:
            code = reason_code
        self.reason_code = code
        self.reason = _lib.dance_status_name(int(reason_code)).decode()
        self.text = text
        self.sender = sender        # who the message claimed to be, "" unknown
        super().__init__(reason_code, text)

    def __str__(self) -> str:
        return f"not verified ({self.reason}): {self.text}"


class LookupFailed(NotVerified):
    """DNS could not be asked (timeout, SERVFAIL, network): no verdict, try
    again later."""


@dataclass(frozen=True)
class Verified:
    """A verified message: the sender's DNS name, the JWS algorithm, the
    payload (exact bytes) and where the key came from ("tlsa 3 1 0",
    "x5c+tlsa 3 1 1", "offline key")."""
    sender: str
    alg: str
    payload: bytes
    key: str


# ----------------------------------------------------------------- library

def library_path() -> str:
    """What is loaded: $DANCE_LIBRARY, else libdance.so.0."""
    return os.environ.get("DANCE_LIBRARY") or "libdance.so.0"


def _load() -> ctypes.CDLL:
    path = library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"dance: cannot load {path} ({e}); install libdance or set "
                          "DANCE_LIBRARY to its path") from e
    vp, cp, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
    sigs = {
        "dance_status_name": (cp, [ctypes.c_int]),
        "dance_verifier_new": (vp, []),
        "dance_verifier_set": (ctypes.c_int, [vp, cp, cp, cp, sz]),
        "dance_verifier_start": (ctypes.c_int, [vp, cp, sz]),
        "dance_verifier_verify": (ctypes.c_int, [vp, cp, sz, cp, vp]),
        "dance_verifier_free": (None, [vp]),
        "dance_jws_result_new": (vp, []),
        "dance_jws_result_free": (None, [vp]),
        "dance_jws_result_status": (ctypes.c_int, [vp]),
        "dance_jws_result_sender": (cp, [vp]),
        "dance_jws_result_alg": (cp, [vp]),
        "dance_jws_result_key_source": (cp, [vp]),
        "dance_jws_result_reason": (cp, [vp]),
        "dance_jws_result_payload": (ctypes.POINTER(ctypes.c_char), [vp, ctypes.POINTER(sz)]),
        "dance_jws_sign_pem": (ctypes.c_int, [cp, cp, cp, cp, cp, cp, ctypes.c_uint,
                                              cp, sz, ctypes.POINTER(vp),
                                              ctypes.POINTER(sz), cp, sz]),
        "dance_jws_output_free": (None, [vp]),
        "dance_cert_file_identity": (ctypes.c_int, [cp, cp, sz, cp, sz]),
        "dance_jwe_is_jwe": (ctypes.c_bool, [cp, sz]),
        "dance_jws_carries_jwe": (ctypes.c_bool, [cp, sz]),
        "dance_jwe_decrypt_pem": (ctypes.c_int, [cp, cp, sz, sz, ctypes.POINTER(vp),
                                                 ctypes.POINTER(sz), cp, sz]),
        "dance_jwe_output_free": (None, [vp, sz]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


_lib = _load()
_ERR_MAX = 512

# dance_jws_sign_pem flags (jws.h)
_SIGN_NO_IAT, _SIGN_X5U, _SIGN_FLATTENED, _SIGN_RANDOM_JTI = 0x1, 0x2, 0x4, 0x8


def _bytes(value: Union[bytes, bytearray, memoryview, str], what: str) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes or str, not {type(value).__name__}")


def _text(value: Optional[str]) -> Optional[bytes]:
    return None if value is None else value.encode()


def _option_text(name: str, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if name in ("resolver", "allowed_domains") and not isinstance(value, str):
        return ",".join(str(v) for v in value)
    if name == "timeout":
        return str(max(1, round(float(value) * 1000)))     # seconds -> ms
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode()
    return str(value)


# ---------------------------------------------------------------- verifier

class Verifier:
    """Verifies signed messages against their senders' DNSSEC-validated
    TLSA records (or, with key=PEM, offline against that key).

    Options (None: the library's default):
      resolver         "IP[@PORT]" or a list of them (default: the system's)
      trust_anchor     path of the DNSSEC trust anchor (default: the root key)
      allowed_domains  "a.example,b.example" or a list: other senders are
                       refused (Status.NOT_ALLOWED) before any DNS query
      dns_transport    "udp", "tcp" or "tls"; tls needs tls_auth_name
      tls_auth_name    the DNS-over-TLS server's certificate name
      timeout          DNS timeout in seconds (default 2)
      service_label    "_mqtt": records at _mqtt.<sender>
      cafile           CA certificates for PKIX usages with x5c
      max_skew         allowed |now - iat|, seconds (default 300)
      require_iat, require_topic   refuse messages without iat / topic header
      max_size         largest message in bytes (default 65536)
      cache_max_ttl    seconds secure answers are cached at most (default
                       3600, within their TTL; 0: ask DNS for every message)
      replay_window    seconds: a second copy of a verified message within
                       it is refused (Status.REPLAY); default off
      key              PEM text (public key, certificate or private key):
                       verify offline with it; DNS options are then refused

    Use as a context manager or call close(); the C objects are also freed
    when the Verifier is garbage-collected.
    """

    _handle = None

    def __init__(self, resolver: Union[str, Iterable[str], None] = None,
                 trust_anchor: Optional[str] = None,
                 allowed_domains: Union[str, Iterable[str], None] = None,
                 dns_transport: Optional[str] = None,
                 tls_auth_name: Optional[str] = None,
                 timeout: Optional[float] = None,
                 service_label: Optional[str] = None,
                 cafile: Optional[str] = None,
                 max_skew: Optional[int] = None,
                 require_iat: Optional[bool] = None,
                 require_topic: Optional[bool] = None,
                 max_size: Optional[int] = None,
                 cache_max_ttl: Optional[int] = None,
                 replay_window: Optional[int] = None,
                 key: Union[str, bytes, None] = None):
        options = dict(resolver=resolver, trust_anchor=trust_anchor,
                       allowed_domains=allowed_domains, dns_transport=dns_transport,
                       tls_auth_name=tls_auth_name, timeout=timeout,
                       service_label=service_label, cafile=cafile, max_skew=max_skew,
                       require_iat=require_iat, require_topic=require_topic,
                       max_size=max_size, cache_max_ttl=cache_max_ttl,
                       replay_window=replay_window, key=key)
        # kept on the object: __del__ may run at interpreter exit, after
        # the module's globals are gone
        self._free = _lib.dance_verifier_free
        self._cond = threading.Condition()
        self._busy = 0
        self._closed = False
        handle = _lib.dance_verifier_new()
        if not handle:
            raise MemoryError("dance: cannot make a verifier")
        err = ctypes.create_string_buffer(_ERR_MAX)
        try:
            for name, value in options.items():
                if value is None:
                    continue
                if _lib.dance_verifier_set(handle, name.encode(),
                                           _option_text(name, value).encode(),
                                           err, _ERR_MAX) != 0:
                    raise ValueError(f"dance.Verifier {name}: {err.value.decode()}")
            if _lib.dance_verifier_start(handle, err, _ERR_MAX) != 0:
                raise ValueError(f"dance.Verifier: {err.value.decode()}")
        except BaseException:
            _lib.dance_verifier_free(handle)
            raise
        self._handle = handle

    def verify(self, message: Union[bytes, str], topic: Optional[str] = None) -> Verified:
        """Verify message (compact or flattened JSON JWS, or COSE_Sign1
        bytes), published on topic when known. Returns Verified; raises NotVerified (LookupFailed
        when DNS could not answer)."""
        data = _bytes(message, "message")
        with self._cond:
            if self._closed or self._handle is None:
                raise ValueError("dance.Verifier is closed")
            self._busy += 1
        res = _lib.dance_jws_result_new()
        try:
            if not res:
                raise MemoryError("dance: cannot make a result")
            st = _lib.dance_verifier_verify(self._handle, data, len(data), _text(topic), res)
            return _outcome(st, res)
        finally:
            _lib.dance_jws_result_free(res)
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def close(self) -> None:
        """Free the C verifier, after the calls in progress end. Idempotent."""
        cond = getattr(self, "_cond", None)
        if cond is None:
            return
        with cond:
            self._closed = True
            while self._busy > 0:
                cond.wait()
            handle, self._handle = self._handle, None
        if handle:
            self._free(handle)

    def __enter__(self) -> "Verifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def _outcome(st: int, res) -> Verified:
    sender = (_lib.dance_jws_result_sender(res) or b"").decode()
    if st != Status.OK:
        text = (_lib.dance_jws_result_reason(res) or b"").decode()
        cls = LookupFailed if st == Status.LOOKUP_FAILED else NotVerified
        raise cls(st, text, sender)
    n = ctypes.c_size_t(0)
    ptr = _lib.dance_jws_result_payload(res, ctypes.byref(n))
    payload = ctypes.string_at(ptr, n.value) if n.value else b""
    return Verified(sender=sender,
                    alg=(_lib.dance_jws_result_alg(res) or b"").decode(),
                    payload=payload,
                    key=(_lib.dance_jws_result_key_source(res) or b"").decode())


def verify_with_key(message: Union[bytes, str], pem: Union[str, bytes],
                    topic: Optional[str] = None, **policy) -> Verified:
    """Verify offline against pem (public key, certificate or private key),
    as `dance verify --key` does: no DNS, and the sender's name is reported
    but not tied to the key. policy: max_skew, require_iat, require_topic,
    allowed_domains, max_size (as for Verifier)."""
    with Verifier(key=pem, **policy) as v:
        return v.verify(message, topic)


# -------------------------------------------------------------------- sign

def sign(payload: Union[bytes, str], key_pem: Union[str, bytes], sender: str,
         alg: Optional[str] = None, topic: Optional[str] = None,
         jti: Union[str, bool, None] = None, iat: bool = True, x5u: bool = False,
         x5c: Union[str, bytes, None] = None, json: bool = False) -> bytes:
    """Sign payload as `dance sign` does: kid = sender, alg from the key
    unless given, iat = now unless iat=False, topic when given, jti (a
    string, or True for a random one), x5u, x5c (PEM certificate chain,
    leaf first), json for the flattened JSON serialization (implies x5u).
    Returns the JWS (one line, bytes). Raises ValueError with the reason."""
    data = _bytes(payload, "payload")
    flags = 0
    if not iat:
        flags |= _SIGN_NO_IAT
    if x5u:
        flags |= _SIGN_X5U
    if json:
        flags |= _SIGN_FLATTENED
    if jti is True:
        flags |= _SIGN_RANDOM_JTI
        jti = None
    elif jti is False:
        jti = None
    out = ctypes.c_void_p()
    outlen = ctypes.c_size_t(0)
    err = ctypes.create_string_buffer(_ERR_MAX)
    rc = _lib.dance_jws_sign_pem(_bytes(key_pem, "key_pem"), sender.encode(), _text(alg),
                                 None if x5c is None else _bytes(x5c, "x5c"),
                                 _text(jti), _text(topic), flags, data, len(data),
                                 ctypes.byref(out), ctypes.byref(outlen), err, _ERR_MAX)
    if rc != 0:
        raise ValueError(f"dance.sign: {err.value.decode()}")
    try:
        return ctypes.string_at(out.value, outlen.value)
    finally:
        _lib.dance_jws_output_free(out)


# ----------------------------------------------------------------- decrypt

def is_jwe(message: Union[bytes, str]) -> bool:
    """Whether message looks like a JWE (compact, five parts; or JSON with
    "ciphertext"): sign-then-encrypt, to be decrypted before verifying."""
    data = _bytes(message, "message")
    return bool(_lib.dance_jwe_is_jwe(data, len(data)))


def carries_jwe(message: Union[bytes, str]) -> bool:
    """Whether message is a JWS whose protected cty names a JWE
    (encrypt-then-sign): once verified, its payload is to be decrypted.
    Nothing is verified here."""
    data = _bytes(message, "message")
    return bool(_lib.dance_jws_carries_jwe(data, len(data)))


def decrypt(message: Union[bytes, str], key_pem: Union[str, bytes],
            max_size: int = 0) -> bytes:
    """Decrypt a JWE with this recipient's private key (PEM), as
    `dance decrypt --key` does: RSA-OAEP-256, ECDH-ES, ECDH-ES+A256KW;
    A256GCM, A256CBC-HS512; compact or JSON. Returns the plaintext.
    Raises NotVerified: Status.DECRYPT_FAILED ("decryption failed", the one
    reason for every failure once the key is used, so that decryption is no
    oracle), another Status for what is refused before (zip, crit, an
    unsupported alg, a key of the wrong type, ...), or Status.INTERNAL for a
    key that does not load."""
    data = _bytes(message, "message")
    out = ctypes.c_void_p()
    outlen = ctypes.c_size_t(0)
    err = ctypes.create_string_buffer(_ERR_MAX)
    st = _lib.dance_jwe_decrypt_pem(_bytes(key_pem, "key_pem"), data, len(data), max_size,
                                    ctypes.byref(out), ctypes.byref(outlen), err, _ERR_MAX)
    if st != Status.OK:
        raise NotVerified(st, err.value.decode())
    try:
        return ctypes.string_at(out.value, outlen.value) if outlen.value else b""
    finally:
        _lib.dance_jwe_output_free(out, outlen.value)


def cert_identity(path: str) -> str:
    """The identity (the one dNSName, normalised) of the first certificate
    in the PEM file at path: what a client with that certificate is called
    by the broker's plugin, and so the start of its client id. Raises
    ValueError when the certificate has no or several names."""
    out = ctypes.create_string_buffer(256)
    err = ctypes.create_string_buffer(_ERR_MAX)
    if _lib.dance_cert_file_identity(os.fsencode(path), out, 256, err, _ERR_MAX) != 0:
        raise ValueError(err.value.decode())
    return out.value.decode()
