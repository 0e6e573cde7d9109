package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"
)

// MaxHeadFile bounds a head file (AUDIT.md, "Head files"). A head is about 330 bytes;
// pretty-printed it stays far below this, and a verifier never reads an unbounded file into
// memory on an outsider's say-so.
const MaxHeadFile = 64 << 10

// headFields are a head's keys, in the one order AUDIT.md allows.
var headFields = []string{"tenant_id", "seq", "hash", "signed_at", "key_id", "signature"}

// zeroHash is the hash of the empty history, the only hash a head at seq 0 may carry.
const zeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// ParseHead reads a head file (AUDIT.md, "Head files"): the head object, or a whole head
// line kept from an export, in the strict form the spec gives. Anything else is refused, so that a
// head an auditor leans on means exactly one thing to every verifier.
func ParseHead(b []byte) (Head, error) {
	if len(b) > MaxHeadFile {
		return Head{}, fmt.Errorf("not a head: longer than %d bytes", MaxHeadFile)
	}
	h, err := parseHead(b, false)
	if err != nil {
		return Head{}, fmt.Errorf("not a head: %w", err)
	}
	return h, nil
}

// IsHeadLine reports whether an export line is the head line (AUDIT.md, "The head line"):
// JSON whitespace, "{", JSON whitespace, the key "head", JSON whitespace and ":". No event line
// can start that way (its first key is "tenant_id"), so every other line is an event line.
func IsHeadLine(line []byte) bool {
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return false
	}
	i = skipSpace(line, i+1)
	if !bytes.HasPrefix(line[i:], []byte(`"head"`)) {
		return false
	}
	i = skipSpace(line, i+len(`"head"`))
	return i < len(line) && line[i] == ':'
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// parseHead reads a head in the grammar of AUDIT.md, "Heads": one JSON object (JSON
// whitespace allowed between tokens), no backslash anywhere, exactly the keys of headFields
// in that order, each value in its one canonical spelling. line requires the {"head": ...}
// wrapper of an export's last line; otherwise the bare object is accepted too.
func parseHead(b []byte, line bool) (Head, error) {
	if bytes.IndexByte(b, '\\') >= 0 {
		return Head{}, errors.New("a head holds no backslash (no escapes)")
	}
	obj := b
	if w, err := strictObject(b, []string{"head"}, true); err == nil {
		obj = w["head"]
	} else if line {
		return Head{}, errors.New(`not {"head": {...}}`)
	}
	fields, err := strictObject(obj, headFields, true)
	if err != nil {
		return Head{}, err
	}
	str := map[string]string{}
	for _, k := range []string{"tenant_id", "hash", "signed_at", "key_id", "signature"} {
		raw := fields[k]
		if len(raw) < 2 || raw[0] != '"' {
			return Head{}, fmt.Errorf("%s is not a string", k)
		}
		str[k] = string(raw[1 : len(raw)-1]) // no backslash: the bytes are the value
	}
	seq, err := canonicalSeq(fields["seq"])
	if err != nil {
		return Head{}, err
	}
	id, err := canonicalUUID(str["tenant_id"])
	if err != nil {
		return Head{}, fmt.Errorf("tenant_id: %v", err)
	}
	if _, err := parseHash(str["hash"]); err != nil {
		return Head{}, fmt.Errorf("hash: %v", err)
	}
	if seq == 0 && str["hash"] != zeroHash {
		return Head{}, errors.New("a head at seq 0 has the hash of no events, 64 zeros")
	}
	at, err := canonicalTime(str["signed_at"])
	if err != nil {
		return Head{}, fmt.Errorf("signed_at: %v", err)
	}
	keyID, sig := str["key_id"], str["signature"]
	if keyID != "" && (len(keyID) != 16 || !isHex(keyID)) {
		return Head{}, errors.New("key_id is neither empty nor 16 lowercase hex digits")
	}
	if sig != "" && (len(sig) != 128 || !isHex(sig)) {
		return Head{}, errors.New("signature is neither empty nor 128 lowercase hex digits")
	}
	if (keyID == "") != (sig == "") {
		return Head{}, errors.New("key_id and signature are both empty (unsigned) or both set")
	}
	return Head{TenantID: id, Seq: seq, Hash: str["hash"], SignedAt: at, KeyID: keyID, Signature: sig}, nil
}

// canonicalSeq accepts a JSON integer in its one canonical spelling: no sign, no leading
// zero, no fraction or exponent, at most 2^63-1.
func canonicalSeq(raw []byte) (int64, error) {
	bad := len(raw) == 0 || (raw[0] == '0' && len(raw) > 1)
	for _, c := range raw {
		bad = bad || c < '0' || c > '9'
	}
	if bad {
		return 0, errors.New("seq is not a non-negative integer in canonical decimal")
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, errors.New("seq is out of range")
	}
	return n, nil
}

// canonicalTime accepts what encoding/json writes for a UTC time holding whole microseconds:
// RFC 3339 with "Z", a fraction only when non-zero and without trailing zeros.
func canonicalTime(s string) (time.Time, error) {
	t, err := parseMicros(s)
	if err != nil {
		return time.Time{}, err
	}
	if !canonicalFraction(s) {
		return time.Time{}, fmt.Errorf("%q is not canonical (fraction without trailing zeros, or none)", s)
	}
	return t, nil
}

// ParsePublicKey reads a published Ed25519 public key (AUDIT.md section 3, "Inputs"): 64
// hex digits that encode a point of the curve canonically (RFC 8032 section 5.1.3). crypto/ed25519 would
// take some non-canonical encodings that verify_audit.py refuses; refusing them here keeps
// the two verifiers identical.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("not 64 hex digits (an Ed25519 public key)")
	}
	if !canonicalPoint(b) {
		return nil, errors.New("not the canonical encoding of an Ed25519 curve point")
	}
	return b, nil
}

var (
	fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	// curveD is -121665/121666 mod p.
	curveD = new(big.Int).Mod(new(big.Int).Mul(big.NewInt(-121665),
		new(big.Int).ModInverse(big.NewInt(121666), fieldP)), fieldP)
)

// canonicalPoint decodes a point as RFC 8032 section 5.1.3 does, refusing y >= p, a y with
// no x on the curve, and x = 0 with the sign bit set.
func canonicalPoint(b []byte) bool {
	le := make([]byte, 32)
	for i := range le {
		le[i] = b[31-i]
	}
	sign := le[0] >> 7
	le[0] &= 0x7f
	y := new(big.Int).SetBytes(le)
	if y.Cmp(fieldP) >= 0 {
		return false
	}
	y2 := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	v := new(big.Int).Add(new(big.Int).Mul(curveD, y2), big.NewInt(1))
	x2 := new(big.Int).Mul(u, new(big.Int).ModInverse(v.Mod(v, fieldP), fieldP))
	x2.Mod(x2, fieldP)
	if new(big.Int).ModSqrt(x2, fieldP) == nil {
		return false
	}
	return !(x2.Sign() == 0 && sign == 1)
}
