package app

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/auditlog"
)

// Chains is what verifying needs of the event store (eventstore.Store implements it):
// re-hashing a tenant's stored chain from one snapshot.
type Chains interface {
	// VerifyChain re-hashes the whole stream and reports the first bad seq.
	VerifyChain(ctx context.Context, tenant uuid.UUID) (auditlog.ChainReport, error)
	// VerifyChainFrom re-hashes only the events after seq after, whose hash was afterHash
	// when an earlier verification found seqs 1 to after sound.
	VerifyChainFrom(ctx context.Context, tenant uuid.UUID, after int64, afterHash [32]byte) (auditlog.ChainReport, error)
	// Head returns the tenant's last seq and that event's hash.
	Head(ctx context.Context, tenant uuid.UUID) (int64, [32]byte, error)
}

// Verify checks that a tenant's stored history was not altered: every event's hash is the
// hash of its content, each links to the one before, and the head agrees with the last
// (CHAIN.md). `tenantry audit verify --tenant` and GET /v1/audit/verify call it.
type Verify struct {
	Chains Chains
}

// VerifyInput names the tenant. Earlier, when set, is a verification answered before:
// while its full re-hash is younger than FullEvery, only the events recorded since are
// re-hashed (and a failed verification is answered again, unchanged, while the head has
// not moved), so a caller asking often pays for new events only. Now is the time of the
// call. Without Earlier the whole stream is re-hashed.
type VerifyInput struct {
	Tenant    uuid.UUID
	Earlier   *Verified
	FullEvery time.Duration
	Now       time.Time
}

// Verified is a verification's outcome: the report, when the whole stream was last
// re-hashed (the events up to then are taken as checked since), and how many events this
// call re-hashed.
type Verified struct {
	Report   auditlog.ChainReport
	FullAt   time.Time
	Rehashed int64
}

// Chain verifies the tenant's stored chain.
func (u Verify) Chain(ctx context.Context, in VerifyInput) (Verified, error) {
	prev := in.Earlier
	fresh := prev != nil && in.Now.Sub(prev.FullAt) < in.FullEvery
	var hash [32]byte
	var rep auditlog.ChainReport
	var err error
	switch {
	case fresh && prev.Report.OK && hexInto(hash[:], prev.Report.HeadHash):
		rep, err = u.Chains.VerifyChainFrom(ctx, in.Tenant, prev.Report.HeadSeq, hash)
	case fresh && !prev.Report.OK: // the same answer while the head stays where it was
		seq, _, herr := u.Chains.Head(ctx, in.Tenant)
		if herr != nil {
			return Verified{}, herr
		}
		if seq == prev.Report.HeadSeq {
			return Verified{Report: prev.Report, FullAt: prev.FullAt}, nil
		}
		fresh = false
		rep, err = u.Chains.VerifyChain(ctx, in.Tenant)
	default:
		fresh = false
		rep, err = u.Chains.VerifyChain(ctx, in.Tenant)
	}
	if err != nil {
		return Verified{}, err
	}
	out := Verified{Report: rep, FullAt: in.Now, Rehashed: rep.Events}
	if fresh {
		out.FullAt = prev.FullAt
		out.Rehashed -= prev.Report.HeadSeq
	}
	return out, nil
}

// hexInto decodes s into dst: true when s is empty (the hash of no events, all zero) or
// exactly len(dst) bytes of hex.
func hexInto(dst []byte, s string) bool {
	if s == "" {
		return true
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return false
	}
	copy(dst, b)
	return true
}
