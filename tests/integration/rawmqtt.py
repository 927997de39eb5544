"""MQTT framing by hand, for integration tests that send packets paho will
not send (a QoS 2 PUBLISH resent with DUP before PUBREL) or that must see
what paho hides (whether the TLS session under a CONNECT was resumed).

Only what those tests use: the Remaining Length / property length varint,
a whole packet over a (TLS) socket, and an MQTT v5 CONNECT with clean start.
"""

import struct


def varint(n):
    """n as an MQTT Variable Byte Integer."""
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def decode_varint(buf, i):
    """The Variable Byte Integer at buf[i:]: (value, index after it)."""
    n, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def packet(first, body):
    """A whole packet: first byte (type and flags), length, body."""
    return bytes([first]) + varint(len(body)) + body


def connect_v5(client_id, keepalive=60):
    """An MQTT v5 CONNECT with clean start, no properties, no will, no
    credentials."""
    cid = client_id.encode()
    var = b"\x00\x04MQTT\x05\x02" + struct.pack("!H", keepalive) + b"\x00"
    return packet(0x10, var + struct.pack("!H", len(cid)) + cid)


def read_exact(sock, n):
    """n bytes from sock, or None when the peer closes first."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_packet(sock):
    """The next packet from sock: (type, the high nibble of its first byte;
    body), or (None, None) when the peer closes before it is whole."""
    first = read_exact(sock, 1)
    if first is None:
        return None, None
    n, shift = 0, 0
    while True:
        b = read_exact(sock, 1)
        if b is None:
            return None, None
        n |= (b[0] & 0x7F) << shift
        shift += 7
        if not b[0] & 0x80:
            break
    body = read_exact(sock, n)
    if body is None:
        return None, None
    return first[0] & 0xF0, body
