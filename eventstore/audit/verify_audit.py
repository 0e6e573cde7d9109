#!/usr/bin/env python3
"""verify_audit.py: an independent verifier for Tenantry audit exports.

It implements AUDIT.md format v1 (the file beside this one) with nothing but the Python 3
standard library, so an auditor can check an export without trusting Tenantry's own code:
it re-hashes the tenant's event chain, checks the signed head at its end and, given an
earlier head, that the export extends it. Ed25519 (RFC 8032) is implemented below because
the standard library has none.

Usage:
    python3 verify_audit.py EXPORT_FILE [--public-key HEX64] [--head HEAD_FILE]

EXPORT_FILE may be - for standard input. --public-key is the operator's published Ed25519
public key (64 hex digits; without it the head's signature is not checked). --head is an
earlier head (`tenantry audit head` output, or an export's head line) that the export must
extend.

Prints one line of JSON (ok, tenant_id, events, head_seq, head_hash, signed, first_bad_seq,
problem, detail) and exits 0 when the export is good and 1 when it found a problem. Exit 2
means no verdict and prints no JSON: a usage error, a file that cannot be read, a --head file
that is not a head, or a --public-key that is not a key (AUDIT.md section 3, "Exit
status").
"""

import argparse
import datetime
import hashlib
import json
import re
import sys

EVENT_TAG = b"tenantry.event.v1"
HEAD_TAG = b"tenantry.head.v1"
DATA_SEP = b',"data":'
META_SEP = b',"metadata":'
# The event line's fields before data and metadata, in the order AUDIT.md gives.
EVENT_FIELDS = ("tenant_id", "seq", "event_id", "stream_id", "stream_version", "type",
                "schema_version", "recorded_at", "prev_hash", "hash")
# A head's keys, in the one order AUDIT.md allows.
HEAD_FIELDS = ("tenant_id", "seq", "hash", "signed_at", "key_id", "signature")
ZERO_HEX = "0" * 64
HEX64 = re.compile(r"[0-9a-f]{64}")
HEX128 = re.compile(r"[0-9a-f]{128}")
KEY_ID = re.compile(r"[0-9a-f]{16}")
TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.([0-9]{1,9}))?Z")
# signed_at as encoding/json writes it: a fraction only when non-zero, without trailing zeros.
CANONICAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{0,5}[1-9])?Z")
SEQ = re.compile(r"0|[1-9][0-9]*")
PUBLIC_KEY = re.compile(r"[0-9a-fA-F]{64}")
# The head line (AUDIT.md, "The head line"): JSON whitespace, {, JSON whitespace, "head",
# JSON whitespace, colon.
HEAD_LINE = re.compile(rb'[ \t\n\r]*\{[ \t\n\r]*"head"[ \t\n\r]*:')
MAX_HEAD_FILE = 64 << 10
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INT64 = 1 << 63
INT32 = 1 << 31
# How deep data and metadata may nest (AUDIT.md, "Event lines").
MAX_DEPTH = 256
# What encoding/json escapes beyond what json.dumps(ensure_ascii=False) does.
_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                             "\u2028": "\\u2028", "\u2029": "\\u2029"})
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


# ---- Ed25519 verification (RFC 8032 section 5.1.7, pure Ed25519) ----------------------

P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493  # the group order, RFC 8032's L
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
_BY = 4 * pow(5, P - 2, P) % P
_BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202
BASE = (_BX, _BY, 1, _BX * _BY % P)  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z


def _add(p1, p2):
    """Adds two points (RFC 8032 section 5.1.4); also correct for doubling."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * D * t1 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, pt):
    q = (0, 1, 1, 0)  # the neutral element
    while s:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _encode(pt):
    x, y, z, _ = pt
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _decode(s):
    """Decodes a point (RFC 8032 section 5.1.3), or returns None."""
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def ed25519_verify(public_key, message, signature):
    """Reports whether signature is a valid Ed25519 signature of message by public_key.

    The check is cofactorless, as in Go's crypto/ed25519: [S]B - [k]A must encode to R.
    """
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decode(public_key)
    if a is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= Q:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % Q
    minus_a = (P - a[0], a[1], a[2], P - a[3])
    return _encode(_add(_mul(s, BASE), _mul(k, minus_a))) == signature[:32]


# ---- parsing ----------------------------------------------------------------------------

class Problem(Exception):
    def __init__(self, seq, name, detail):
        super().__init__(detail)
        self.seq, self.name, self.detail = seq, name, detail


def _no_constants(name):
    raise ValueError("%s is not JSON" % name)


def _unique_keys(pairs):
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError("duplicate key")
    return d


def _number(s):
    """Keeps data's numbers unconverted: int() refuses over 4300 digits, which JSON allows."""
    return None


# Strict JSON: no NaN or Infinity; _UNIQUE also refuses duplicate keys; _PLAIN (for data and
# metadata) converts no number. Built once: json.loads with arguments builds a decoder on
# every call.
_PLAIN = json.JSONDecoder(parse_constant=_no_constants, parse_int=_number, parse_float=_number)
_UNIQUE = json.JSONDecoder(parse_constant=_no_constants, object_pairs_hook=_unique_keys)


def _loads(b, unique=False):
    """Decodes UTF-8 bytes holding one strict JSON value."""
    s = b.decode("utf-8")
    dec = _UNIQUE if unique else _PLAIN
    if s[:1] == "{" and s[-1:] == "}":  # the usual case: skip decode()'s whitespace regexes
        obj, end = dec.raw_decode(s)
        if end == len(s):
            return obj
    return dec.decode(s)


def _uuid(s, name):
    """The 16 bytes (network order) of a UUID written lowercase and hyphenated (8-4-4-4-12)."""
    if type(s) is not str or not UUID_RE.fullmatch(s):
        raise ValueError("%s %r is not a lowercase hyphenated UUID" % (name, s))
    return bytes.fromhex(s.replace("-", ""))


def _int(v, name, bound):
    if type(v) is not int:
        raise ValueError("%s is not an integer" % name)
    if not -bound <= v < bound:
        raise ValueError("%s %d is out of range" % (name, v))
    return v


def _str(v, name):
    """The UTF-8 bytes of a JSON string."""
    if type(v) is not str:
        raise ValueError("%s is not a string" % name)
    try:
        return v.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800"
        raise ValueError("%s is not valid Unicode" % name) from None


def _hex64(v, name):
    if type(v) is not str or not HEX64.fullmatch(v):
        raise ValueError("%s is not 64 lowercase hex digits" % name)
    return v


_EPOCH_DAY = datetime.date(1970, 1, 1).toordinal()
_days = {}  # "YYYY-MM-DD" -> days since 1970-01-01 (exports repeat dates a lot)


def micros(v, name):
    """An RFC 3339 UTC time with 0 to 9 fraction digits, as integer microseconds since the
    epoch. The fraction must be a whole number of microseconds."""
    m = TIME.fullmatch(v) if type(v) is str else None
    if not m:
        raise ValueError("%s %r is not an RFC 3339 UTC time ending in Z" % (name, v))
    day = _days.get(v[:10])
    if day is None:
        y = int(v[:4])
        shift = 400 if y == 0 else 0  # RFC 3339 allows year 0000; datetime starts at 1
        try:  # 400 Gregorian years are 146097 days
            day = datetime.date(y + shift, int(v[5:7]), int(v[8:10])).toordinal() - _EPOCH_DAY \
                - 146097 * (shift // 400)
        except ValueError:
            raise ValueError("%s %r is not a valid date" % (name, v)) from None
        if len(_days) < 100000:
            _days[v[:10]] = day
    h, mi, sec = int(v[11:13]), int(v[14:16]), int(v[17:19])
    if h > 23 or mi > 59 or sec > 59:
        raise ValueError("%s %r is not a valid time of day" % (name, v))
    frac = (m.group(1) or "").ljust(9, "0")
    if frac[6:] != "000":
        raise ValueError("%s %r is not a whole number of microseconds" % (name, v))
    return (((day * 24 + h) * 60 + mi) * 60 + sec) * 1000000 + int(frac[:6])


_go_strings = {}  # stream ids and types repeat a lot in an export


def go_string(s):
    """s as a JSON string the way Go's encoding/json writes it (the exporter's spelling)."""
    out = _go_strings.get(s)
    if out is None:
        out = json.dumps(s, ensure_ascii=False).translate(_GO_ESCAPES)
        if len(_go_strings) < 100000 and len(s) < 256:
            _go_strings[s] = out
    return out


def within_depth(b):
    """Whether the valid JSON text b nests objects and arrays at most MAX_DEPTH deep."""
    if b.count(b"{") + b.count(b"[") <= MAX_DEPTH:
        return True
    depth = 0
    for m in _BRACKET.finditer(_JSON_STRING.sub(b"", b)):
        if m.group() in (b"{", b"["):
            depth += 1
            if depth > MAX_DEPTH:
                return False
        else:
            depth -= 1
    return True


def parse_event(line):
    """Checks an event line's form (check 1). Returns (tenant_id, seq, prev_hash, hash, rest):
    the two hashes as hex and rest the canonical encoding's fields 5 to 12, in bytes."""
    i = line.find(DATA_SEP)
    j = line.find(META_SEP)
    if i < 0 or j < i or line.find(DATA_SEP, i + 1) >= 0 or line.find(META_SEP, j + 1) >= 0 \
            or not line.endswith(b"}"):
        raise ValueError('the data and metadata bytes cannot be located: ,"data": and '
                         ',"metadata": must each occur once, in that order, and the line must '
                         'end with }')
    data, meta = line[i + len(DATA_SEP):j], line[j + len(META_SEP):-1]
    try:
        f = _loads(line[:i] + b"}", unique=True)
        d, m = _loads(data), _loads(meta)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise ValueError("not a JSON object: %s" % e) from None
    if type(f) is not dict or tuple(f) != EVENT_FIELDS:
        raise ValueError("not a JSON object with the fields %s, data, metadata in that order"
                         % ", ".join(EVENT_FIELDS))
    for b, v in ((data, d), (meta, m)):  # within_depth scans valid JSON only: it stays linear
        if type(v) is not dict or b[:1] != b"{" or b[-1:] != b"}" or not within_depth(b):
            raise ValueError("data and metadata must each be a JSON object from { to }, nested "
                             "at most %d deep" % MAX_DEPTH)
    if len(data) >= 1 << 32 or len(meta) >= 1 << 32:
        raise ValueError("data or metadata is too long to encode")
    tenant = f["tenant_id"]
    if type(tenant) is not str or not UUID_RE.fullmatch(tenant):
        raise ValueError("tenant_id %r is not a lowercase hyphenated UUID" % (tenant,))
    stream, typ = _str(f["stream_id"], "stream_id"), _str(f["type"], "type")
    rest = b"".join((
        _uuid(f["event_id"], "event_id"),
        len(stream).to_bytes(4, "big"), stream,
        _int(f["stream_version"], "stream_version", INT64).to_bytes(8, "big", signed=True),
        len(typ).to_bytes(4, "big"), typ,
        _int(f["schema_version"], "schema_version", INT32).to_bytes(4, "big", signed=True),
        len(data).to_bytes(4, "big"), data,
        len(meta).to_bytes(4, "big"), meta,
        micros(f["recorded_at"], "recorded_at").to_bytes(8, "big", signed=True),
    ))
    seq = _int(f["seq"], "seq", INT64)
    prev_hash, hash_ = _hex64(f["prev_hash"], "prev_hash"), _hex64(f["hash"], "hash")
    if not CANONICAL_TIME.fullmatch(f["recorded_at"]):
        raise ValueError("recorded_at %r is not as the exporter writes it (a fraction only when "
                         "not zero, without trailing zeros)" % f["recorded_at"])
    # Exactly the bytes the exporter writes for these values (AUDIT.md, "Event lines").
    want = '{"tenant_id":"%s","seq":%d,"event_id":"%s","stream_id":%s,"stream_version":%d,' \
        '"type":%s,"schema_version":%d,"recorded_at":"%s","prev_hash":"%s","hash":"%s"' % (
            tenant, seq, f["event_id"], go_string(f["stream_id"]), f["stream_version"],
            go_string(f["type"]), f["schema_version"], f["recorded_at"], prev_hash, hash_)
    if want.encode("utf-8") != line[:i]:
        raise ValueError('the fields before data are not written as the exporter writes them '
                         '(AUDIT.md, "Event lines")')
    return (tenant, seq, prev_hash, hash_, rest)


def canonical(prev_hex, tenant, seq, rest):
    """canonical(event) of AUDIT.md section 2: the tag, prev_hash, tenant_id and seq, then
    rest (fields 5 to 12) as parse_event returned it."""
    return b"".join((EVENT_TAG, bytes.fromhex(prev_hex), bytes.fromhex(tenant.replace("-", "")),
                     seq.to_bytes(8, "big", signed=True), rest))


class _Pairs(list):
    """A JSON object as its (key, value) pairs, in order, duplicates kept."""


class _Int(str):
    """A JSON integer as written, so that its spelling can be checked."""


class _Float(str):
    """A JSON number with a fraction or an exponent, as written."""


# Heads keep every object's pairs and every number's spelling: AUDIT.md ("Heads") allows one
# spelling of each.
_HEAD = json.JSONDecoder(parse_constant=_no_constants, parse_int=_Int, parse_float=_Float,
                         object_pairs_hook=_Pairs)


def parse_head(b, line):
    """Checks a head in the grammar of AUDIT.md ("Heads") and returns its fields. b is the
    bytes of the head line (line true: the {"head": ...} wrapper is required) or of a head
    file (the head object or a whole head line)."""
    if b"\\" in b:
        raise ValueError("a head holds no backslash (no escapes)")
    obj = _HEAD.decode(b.decode("utf-8"))  # JSON whitespace around the value is allowed
    if type(obj) is not _Pairs:
        raise ValueError("not a JSON object")
    if len(obj) == 1 and obj[0][0] == "head":
        obj = obj[0][1]
    elif line:
        raise ValueError('not {"head": {...}}')
    if type(obj) is not _Pairs or tuple(k for k, _ in obj) != HEAD_FIELDS:
        raise ValueError("the fields must be exactly %s, each once, in that order"
                         % ", ".join(HEAD_FIELDS))
    h = dict(obj)
    for k in ("tenant_id", "hash", "signed_at", "key_id", "signature"):
        if type(h[k]) is not str:
            raise ValueError("%s is not a string" % k)
    seq = h["seq"]
    if type(seq) is not _Int or not SEQ.fullmatch(seq):
        raise ValueError("seq is not a non-negative integer in canonical decimal")
    if int(seq) >= INT64:
        raise ValueError("seq is out of range")
    head = {
        "tenant_id": h["tenant_id"],
        "tenant": _uuid(h["tenant_id"], "tenant_id"),
        "seq": int(seq),
        "hash": _hex64(h["hash"], "hash"),
        "signed_at": micros(h["signed_at"], "signed_at"),
        "key_id": h["key_id"],
        "signature": h["signature"],
    }
    if head["seq"] == 0 and head["hash"] != ZERO_HEX:
        raise ValueError("a head at seq 0 has the hash of no events, 64 zeros")
    if not CANONICAL_TIME.fullmatch(h["signed_at"]):
        raise ValueError("signed_at %r is not canonical (fraction without trailing zeros, or "
                         "none)" % h["signed_at"])
    if h["key_id"] and not KEY_ID.fullmatch(h["key_id"]):
        raise ValueError("key_id is neither empty nor 16 lowercase hex digits")
    if h["signature"] and not HEX128.fullmatch(h["signature"]):
        raise ValueError("signature is neither empty nor 128 lowercase hex digits")
    if bool(h["key_id"]) != bool(h["signature"]):
        raise ValueError("key_id and signature are both empty (unsigned) or both set")
    return head


def head_message(head):
    """The 80 signed bytes of a head (AUDIT.md section 1, "Head message")."""
    return b"".join((HEAD_TAG, head["tenant"], head["seq"].to_bytes(8, "big", signed=True),
                     bytes.fromhex(head["hash"]),
                     head["signed_at"].to_bytes(8, "big", signed=True)))


def signature_problem(head, public_key):
    """Why head's signature does not hold for public_key, or None when it does."""
    if not head["signature"]:
        return "the head is not signed"
    key_id = hashlib.sha256(public_key).hexdigest()[:16]
    if head["key_id"] != key_id:
        return "key_id %r is not the given public key's (%s)" % (head["key_id"], key_id)
    if not ed25519_verify(public_key, head_message(head), bytes.fromhex(head["signature"])):
        return "the signature is not valid for the head message and the given public key"
    return None


# ---- the checks of AUDIT.md section 3 ----------------------------------------------------

def _check(lines, public_key, earlier, rep):
    tenant = None   # the first line's tenant_id
    prev = ZERO_HEX  # hash of the last good line (line L)
    n = 0            # L, the last good seq
    # The hash at the earlier head's seq once the walk passes it; at seq 0, that of no events.
    earlier_hash = ZERO_HEX if earlier is not None and earlier["seq"] == 0 else None
    head = None
    for raw in lines:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        exp = n + 1
        if line is raw:  # only the file's last line can lack its LF
            raise Problem(exp, "malformed", "the file's last line does not end with \\n")
        # The head line (AUDIT.md, "The head line"); {"t cannot start it, so event lines skip
        # the regex.
        if not line.startswith(b'{"t') and HEAD_LINE.match(line):
            head = line
            break
        if not line:
            raise Problem(exp, "malformed", "line %d is empty" % exp)
        try:  # 1
            tid, seq, prev_hash, hash_, rest = parse_event(line)
        except ValueError as e:
            raise Problem(exp, "malformed", "line %d: %s" % (exp, e)) from None
        if tenant is None:
            tenant = rep["tenant_id"] = tid
        if tid != tenant:  # 2
            raise Problem(exp, "tenant", "line %d is tenant %s's, line 1 tenant %s's"
                          % (exp, tid, tenant))
        if seq != exp:  # 3
            raise Problem(exp, "numbering", "line %d: expected seq %d, found seq %d"
                          % (exp, exp, seq))
        if prev_hash != prev:  # 4
            raise Problem(exp, "link", "seq %d: prev_hash %s is not the hash of seq %d (%s)"
                          % (exp, prev_hash, exp - 1, prev))
        if hashlib.sha256(canonical(prev, tid, seq, rest)).hexdigest() != hash_:  # 5
            raise Problem(exp, "hash", "seq %d: hash %s is not SHA-256 of the event's canonical "
                          "encoding" % (exp, hash_))
        prev, n = hash_, exp
        rep["events"] = n
        if earlier is not None and earlier["seq"] == n:
            earlier_hash = prev

    if head is None:  # 6
        raise Problem(n + 1, "truncated", "the file ends after seq %d without a head line" % n)
    try:  # 7
        head = parse_head(head, line=True)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise Problem(n + 1, "malformed", "the head line: %s" % e) from None
    for _ in lines:
        raise Problem(n + 1, "malformed", "a line follows the head line")
    rep["head_seq"], rep["head_hash"] = head["seq"], head["hash"]
    if tenant is None:
        tenant = rep["tenant_id"] = head["tenant_id"]
    if head["tenant_id"] != tenant:  # 8
        raise Problem(n + 1, "tenant", "the head is tenant %s's, the events tenant %s's"
                      % (head["tenant_id"], tenant))
    if head["seq"] > n:  # 9
        raise Problem(n + 1, "truncated", "the head is at seq %d but the events end at seq %d"
                      % (head["seq"], n))
    if head["seq"] < n:  # 10
        raise Problem(head["seq"] + 1, "head", "the head is at seq %d but the events go on to "
                      "seq %d" % (head["seq"], n))
    if head["hash"] != prev:
        raise Problem(n, "head", "the head's hash %s is not the hash of seq %d (%s)"
                      % (head["hash"], n, prev))
    if public_key is not None:  # 11
        why = signature_problem(head, public_key)
        if why:
            raise Problem(head["seq"], "signature", why)
        rep["signed"] = True

    if earlier is None:
        return
    if public_key is not None:  # 12
        why = signature_problem(earlier, public_key)
        if why:
            raise Problem(earlier["seq"], "signature", "earlier head: " + why)
    if earlier["tenant_id"] != tenant:  # 13
        raise Problem(earlier["seq"], "tenant", "the earlier head is tenant %s's, not %s's"
                      % (earlier["tenant_id"], tenant))
    if earlier["seq"] > n:  # 14
        raise Problem(n + 1, "truncated", "the earlier head is at seq %d but the events end at "
                      "seq %d" % (earlier["seq"], n))
    if earlier_hash != earlier["hash"]:  # 15
        raise Problem(earlier["seq"], "earlier_head", "seq %d's hash %s is not the earlier "
                      "head's %s: the history was rewritten after that head"
                      % (earlier["seq"], earlier_hash, earlier["hash"]))


def verify(lines, public_key=None, earlier=None):
    """Verifies an export given as an iterable of byte lines (each with or without its
    trailing b"\\n"); returns the report of AUDIT.md section 3 as a dict."""
    rep = {"ok": False, "tenant_id": "", "events": 0, "head_seq": 0, "head_hash": "",
           "signed": False, "first_bad_seq": 0, "problem": "", "detail": ""}
    try:
        _check(iter(lines), public_key, earlier, rep)
        rep["ok"] = True
    except Problem as p:
        rep["first_bad_seq"], rep["problem"], rep["detail"] = p.seq, p.name, p.detail
    return rep


MAX_LINE = 64 << 20  # AUDIT.md section 3, "Inputs"


class LineTooLong(Exception):
    """An export line longer than MAX_LINE bytes (its LF included): an input error."""


def bounded_lines(f):
    """Yields f's lines, refusing to hold one longer than MAX_LINE bytes in memory."""
    while True:
        line = f.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE:
            raise LineTooLong("a line exceeds %d bytes" % MAX_LINE)
        yield line


def main(argv=None):
    """Exit status (AUDIT.md section 3, "Exit status"): 0 verified, 1 verification failed, 2
    no verdict (a usage error, or an input that cannot be read or is not what the flags say
    it is)."""
    ap = argparse.ArgumentParser(description="Verify a Tenantry audit export (AUDIT.md format v1).",
                                 allow_abbrev=False)
    ap.add_argument("export", metavar="EXPORT_FILE", help="the export, or - for standard input")
    ap.add_argument("--public-key", metavar="HEX64",
                    help="the operator's published Ed25519 public key; checks the head's signature")
    ap.add_argument("--head", metavar="HEAD_FILE", help="an earlier head the export must extend")
    args = ap.parse_args(argv)  # exits 2 on a usage error

    public_key = None
    if args.public_key is not None:
        if not PUBLIC_KEY.fullmatch(args.public_key):
            ap.error("--public-key must be 64 hex digits (an Ed25519 public key)")
        public_key = bytes.fromhex(args.public_key)
        if _decode(public_key) is None:
            ap.error("--public-key is not the canonical encoding of an Ed25519 curve point")
    earlier = None
    if args.head is not None:
        try:
            with open(args.head, "rb") as f:
                b = f.read(MAX_HEAD_FILE + 1)
        except OSError as e:
            ap.error("cannot read --head file: %s" % e)
        try:
            if len(b) > MAX_HEAD_FILE:
                raise ValueError("longer than %d bytes" % MAX_HEAD_FILE)
            earlier = parse_head(b, line=False)
        except (ValueError, RecursionError) as e:
            ap.error("--head file is not a head: %s" % e)
    try:
        if args.export == "-":
            rep = verify(bounded_lines(sys.stdin.buffer), public_key, earlier)
        else:
            with open(args.export, "rb") as f:
                rep = verify(bounded_lines(f), public_key, earlier)
    except (OSError, LineTooLong) as e:
        ap.error("cannot read %s: %s" % (args.export, e))
    print(json.dumps(rep, separators=(",", ":")))
    return 0 if rep["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
