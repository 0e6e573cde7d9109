// Package audit checks audit exports offline (AUDIT.md): a tenant's events as NDJSON,
// ending with a head signed with Ed25519, verifiable by anyone who holds the public key,
// and signs heads periodically so an auditor can prove that a later history extends one
// published earlier. The format itself (event lines, heads, signatures) is
// domain/auditlog; writing an export is the use case domain/app.Export.
package audit

import (
	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/eventstore"
)

// Head is a tenant's head, signed or not (AUDIT.md, "Heads"; domain/auditlog): what
// ParseHead reads and the verifier checks.
type Head = auditlog.Head

// AppendEventLine appends the export line of a stored event, "\n" included
// (auditlog.AppendEventLine).
func AppendEventLine(b []byte, e *eventstore.Event) ([]byte, error) {
	ae := e.AuditEvent()
	return auditlog.AppendEventLine(b, &ae)
}

// appendFixed appends the part of e's export line before data and metadata
// (auditlog.AppendFixed): the verifier compares event lines it did not read on its fast
// path with it.
func appendFixed(b []byte, e *eventstore.Event) ([]byte, error) {
	ae := e.AuditEvent()
	return auditlog.AppendFixed(b, &ae)
}
