package auditlog

import "github.com/google/uuid"

// Problem names what a verification of a stored chain found wrong at the first bad seq.
type Problem string

const (
	// ProblemHash: the stored hash is not the hash of the event's content.
	ProblemHash Problem = "hash"
	// ProblemLink: prev_hash is not the hash of the event before it.
	ProblemLink Problem = "link"
	// ProblemNumbering: a seq is missing, repeated or out of order.
	ProblemNumbering Problem = "numbering"
	// ProblemHead: the tenant's head row disagrees with its last event.
	ProblemHead Problem = "head"
)

// ChainReport is the outcome of re-hashing a tenant's stored chain (eventstore's
// VerifyChain): the first bad seq and why, or OK.
type ChainReport struct {
	Tenant      uuid.UUID `json:"tenant_id"`
	Events      int64     `json:"events_checked"`
	HeadSeq     int64     `json:"head_seq"`
	HeadHash    string    `json:"head_hash"`
	OK          bool      `json:"ok"`
	FirstBadSeq int64     `json:"first_bad_seq,omitempty"`
	Problem     Problem   `json:"problem,omitempty"`
	Detail      string    `json:"detail,omitempty"`
}
