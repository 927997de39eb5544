#!/usr/bin/python3
"""backend.py - an example backend in Python that trusts devices, not the
broker: what examples/backend_subscriber.c does, with the `dance` module
(python/dance) and paho-mqtt (Debian's python3-paho-mqtt).

It subscribes (by default to verified/#, where the broker's DANCE plugin
republishes the messages it verified) and verifies every payload again end
to end: the sender of the JWS or COSE_Sign1 (the library tells them
apart), that sender's TLSA records fetched with DNSSEC validation, the
signature, iat, the topic the device bound the message to (both required
unless --compat, as the plugin's strict profile does) and replay. A broker that forged, altered, re-routed or repeated a message is
caught here.

Confidential messages (--decrypt-key KEY.pem, this backend's private key,
whose public half its TLSA records publish), as backend_subscriber does: a
verified JWS with cty JWE (encrypt-then-sign, as device_publisher
--encrypt-to sends) is decrypted after verifying; a bare JWE
(sign-then-encrypt) is decrypted first and the JWS inside verified.

One line per message on stdout, as backend_subscriber prints them:
    VERIFIED <sender> <topic> <payload>
    DECRYPTED <sender> <topic> <plaintext>    (verified, then decrypted)
    REFUSED <reason> <topic> claimed=<sender or -> <why, in words>
<reason> is libdance's token (no_record, bad_signature, replay, ...) or
sender_mismatch when the broker's dance-sender property names someone else
than the signature does.

Verification runs in paho's message callback; a dance.Verifier may also be
shared by worker threads (it is thread-safe, and DNS waits release the GIL).

Exit status: 0 done (--count reached, --timeout without --count, or
SIGTERM); 1 --count not reached before --timeout; 2 bad usage; 3
connection refused or lost.
"""

import argparse
import dataclasses
import os
import signal
import sys
import threading
import time

import paho.mqtt.client as mqtt

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import dance
except ImportError:
    # run from a source tree: the module beside the examples
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "python"))
    import dance

PROG = "backend.py"
EX_OK, EX_FAILED, EX_USAGE, EX_LOST = 0, 1, 2, 3


def safe(data: bytes, limit: int) -> str:
    """Printable ASCII as it is, every other byte as '.', cut at limit."""
    text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data[:limit])
    return text + ("..." if len(data) > limit else "")


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description="Subscribes and verifies every "
                                "message end to end against DNS (DNSSEC).")
    p.add_argument("--host", default="localhost", help="broker host (default localhost)")
    p.add_argument("--port", type=int, default=8883, help="broker port (default 8883)")
    p.add_argument("--cafile", required=True, help="CA of the broker's server certificate")
    p.add_argument("--cert", required=True, help="this backend's client certificate")
    p.add_argument("--key", required=True, help="this backend's client key")
    p.add_argument("--id", help="MQTT client id (default <identity>/backend-<pid>)")
    p.add_argument("--topic", action="append", default=[],
                   help="subscribe to FILTER (repeatable; default verified/#)")
    p.add_argument("--verified-prefix", default="verified/",
                   help="topics under it are verified copies of the topic after it")
    p.add_argument("--resolver", help="DNS upstreams IP[@PORT],... (default: the system's)")
    p.add_argument("--trust-anchor", help="DNSSEC trust anchor (default: the root key)")
    p.add_argument("--dns-transport", choices=("udp", "tcp", "tls"))
    p.add_argument("--tls-auth-name", help="name in the resolver's certificate (with tls)")
    p.add_argument("--dns-timeout", type=int, metavar="MS", help="per lookup (default 2000)")
    p.add_argument("--allowed-domains", help="senders must be under these domains")
    p.add_argument("--issuers", help="CA certificates for x5c chains with PKIX records")
    p.add_argument("--service-label", help="TLSA records at L.<sender>")
    p.add_argument("--max-skew", type=int, help="allowed |now - iat| (default 300)")
    p.add_argument("--compat", action="store_true",
                   help="accept messages without iat or without a topic header")
    p.add_argument("--require-iat", action="store_true",
                   help="refuse messages without iat (also with --compat)")
    p.add_argument("--replay-window", type=int, default=600,
                   help="refuse a copy of a message verified within S seconds (0: off)")
    p.add_argument("--max-ttl", type=int, default=300,
                   help="cache DNS answers at most S seconds (default 300)")
    p.add_argument("--decrypt-key", metavar="F",
                   help="this backend's private key (PEM): decrypt confidential messages")
    p.add_argument("--count", type=int, default=0, help="exit after N messages")
    p.add_argument("--timeout", type=int, default=0, help="exit after S seconds")
    return p.parse_args(argv)


class Backend:
    def __init__(self, args, verifier, decrypt_key=None):
        self.args = args
        self.verifier = verifier
        self.decrypt_key = decrypt_key      # PEM text, or None
        self.filters = args.topic or ["verified/#"]
        self.seen = self.verified = self.refused = self.decrypted = 0
        self.subacks = 0
        self.connack = None                 # reason code once answered
        self.lost = None                    # reason code of an unasked disconnect
        self.cond = threading.Condition()

    def original_topic(self, topic):
        prefix = self.args.verified_prefix
        return topic[len(prefix):] if prefix and topic.startswith(prefix) else topic

    @staticmethod
    def broker_sender(msg):
        props = getattr(msg, "properties", None)
        for name, value in getattr(props, "UserProperty", None) or []:
            if name == "dance-sender":
                return value
        return None

    # paho callbacks (its network thread)
    def on_connect(self, client, userdata, flags, rc, properties=None):
        with self.cond:
            self.connack = rc
            self.cond.notify_all()

    def on_disconnect(self, client, userdata, rc, properties=None):
        with self.cond:
            self.lost = rc
            self.cond.notify_all()

    def on_subscribe(self, client, userdata, mid, granted, properties=None):
        for code in granted:                # ReasonCodes with MQTT v5
            if getattr(code, "value", code) >= 0x80:
                print(f"{PROG}: subscription refused by the broker: {code}", file=sys.stderr)
        with self.cond:
            self.subacks += 1
            self.cond.notify_all()

    def verify_decrypt(self, payload, topic):
        """(Verified, decrypted): with a decrypt key, a JWE is decrypted
        first and the JWS inside verified (sign-then-encrypt), and a verified
        JWS with cty JWE has its payload decrypted (encrypt-then-sign).
        Raises NotVerified, also for a failed decryption."""
        key = self.decrypt_key
        if key is not None and dance.is_jwe(payload):
            return self.verifier.verify(dance.decrypt(payload, key), topic=topic), True
        v = self.verifier.verify(payload, topic=topic)
        if key is None or not dance.carries_jwe(payload):
            return v, False
        try:
            plaintext = dance.decrypt(v.payload, key)
        except dance.NotVerified as e:
            raise dance.NotVerified(e.reason_code, "verified, but " + e.text, v.sender)
        return dataclasses.replace(v, payload=plaintext), True

    def on_message(self, client, userdata, msg):
        claimed_by_broker = self.broker_sender(msg)
        decrypted = False
        try:
            v, decrypted = self.verify_decrypt(msg.payload, self.original_topic(msg.topic))
        except dance.NotVerified as e:
            line = (f"REFUSED {e.reason} {msg.topic} claimed={e.sender or '-'} {e.text}")
            ok = False
        else:
            if claimed_by_broker is not None and claimed_by_broker.lower() != v.sender:
                # the signature is good, but the broker says it came from
                # someone else: report the broker, not the device
                line = (f"REFUSED sender_mismatch {msg.topic} claimed={v.sender} the "
                        f"broker's dance-sender says {safe(claimed_by_broker.encode(), 253)}")
                ok = False
            else:
                word = "DECRYPTED" if decrypted else "VERIFIED"
                line = f"{word} {v.sender} {msg.topic} {safe(v.payload, 400)}"
                ok = True
        with self.cond:
            self.seen += 1
            if ok:
                self.verified += 1
                self.decrypted += decrypted
            else:
                self.refused += 1
            print(line, flush=True)
            self.cond.notify_all()


def make_verifier(args):
    opts = dict(resolver=args.resolver, trust_anchor=args.trust_anchor,
                dns_transport=args.dns_transport, tls_auth_name=args.tls_auth_name,
                allowed_domains=args.allowed_domains, cafile=args.issuers,
                service_label=args.service_label, max_skew=args.max_skew,
                require_iat=(not args.compat) or args.require_iat,
                require_topic=not args.compat, cache_max_ttl=args.max_ttl,
                replay_window=args.replay_window or None)
    if args.dns_timeout is not None:
        opts["timeout"] = args.dns_timeout / 1000
    return dance.Verifier(**opts)


def main(argv):
    args = parse_args(argv)
    try:
        verifier = make_verifier(args)
    except ValueError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EX_USAGE
    if args.id is None:
        try:
            args.id = f"{dance.cert_identity(args.cert)}/backend-{os.getpid()}"
        except ValueError:
            args.id = f"backend-{os.getpid()}"
    decrypt_key = None
    if args.decrypt_key is not None:
        try:
            with open(args.decrypt_key) as f:
                decrypt_key = f.read()
        except (OSError, UnicodeDecodeError) as e:
            print(f"{PROG}: --decrypt-key: cannot read {args.decrypt_key}: {e}",
                  file=sys.stderr)
            return EX_USAGE
        if "PRIVATE KEY-----" not in decrypt_key:
            print(f"{PROG}: --decrypt-key: {args.decrypt_key} holds no PEM private key",
                  file=sys.stderr)
            return EX_USAGE
    b = Backend(args, verifier, decrypt_key)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    client = mqtt.Client(client_id=args.id, protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=args.cafile, certfile=args.cert, keyfile=args.key)
    client.on_connect, client.on_disconnect = b.on_connect, b.on_disconnect
    client.on_subscribe, client.on_message = b.on_subscribe, b.on_message
    try:
        client.connect(args.host, args.port, keepalive=30)
    except (OSError, ValueError) as e:
        print(f"{PROG}: cannot connect to {args.host}:{args.port}: {e}", file=sys.stderr)
        return EX_LOST
    client.loop_start()
    rc = EX_OK
    try:
        with b.cond:
            b.cond.wait_for(lambda: b.connack is not None or b.lost is not None, 10)
            if b.connack != 0:
                why = "no answer" if b.connack is None else str(b.connack)
                print(f"{PROG}: the broker refused the connection ({why})", file=sys.stderr)
                return EX_LOST
        for f in b.filters:
            client.subscribe(f, qos=1)
        deadline = time.monotonic() + args.timeout if args.timeout else None
        reported = False
        while not stop.is_set():
            with b.cond:
                if not reported and b.subacks == len(b.filters):
                    print("SUBSCRIBED " + " ".join(b.filters), flush=True)
                    reported = True
                if args.count and b.seen >= args.count:
                    break
                if b.lost is not None:
                    print(f"{PROG}: disconnected by the broker or the network ({b.lost})",
                          file=sys.stderr)
                    rc = EX_LOST
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    if args.count:
                        print(f"{PROG}: {b.seen} of {args.count} messages within "
                              f"{args.timeout} s", file=sys.stderr)
                        rc = EX_FAILED
                    break
                b.cond.wait(0.1)
    finally:
        client.on_disconnect = None
        client.disconnect()
        client.loop_stop()
        summary = f"{PROG}: {b.seen} messages, {b.verified} verified, {b.refused} refused"
        if decrypt_key is not None:
            summary += f", {b.decrypted} of the verified decrypted"
        print(summary, file=sys.stderr)
        verifier.close()
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
