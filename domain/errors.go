package domain

import (
	"errors"
	"fmt"
)

// Code classifies a domain error so the HTTP layer can map it to a status
// code with one table instead of matching on messages.
type Code string

// Error codes callers branch on.
const (
	// CodeInvalid means the input is malformed or out of range (422/400).
	CodeInvalid Code = "invalid"
	// CodeConflict means the input is well formed but clashes with the current
	// state, such as a duplicate email or a forbidden state transition (409).
	CodeConflict Code = "conflict"
	// CodeNotFound means the addressed aggregate or entity does not exist (404).
	CodeNotFound Code = "not_found"
	// CodeForbidden means the caller may not perform the command (403).
	CodeForbidden Code = "forbidden"
	// CodeLimit means a plan limit such as the seat count would be exceeded.
	CodeLimit Code = "limit_exceeded"
	// CodeQuota means usage beyond a hard quota of the tenant's plan for the period (403);
	// the error is a *QuotaExceeded, which names the metric, quota and usage so far.
	CodeQuota Code = "quota_exceeded"
)

// Error is a domain rule violation. Message is written for end users and never
// contains secrets; Field names the offending input, when there is one.
type Error struct {
	Code    Code
	Field   string
	Message string
}

// Error returns the user-facing message.
func (e *Error) Error() string { return e.Message }

// Invalid reports malformed input in field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Conflict reports a command that clashes with the aggregate's current state.
func Conflict(format string, args ...any) *Error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports a command addressed to something that does not exist.
func NotFound(format string, args ...any) *Error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

// Forbidden reports a command the caller is not allowed to perform.
func Forbidden(format string, args ...any) *Error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf(format, args...)}
}

// LimitExceeded reports a command that would exceed the plan limit on field.
func LimitExceeded(field, format string, args ...any) *Error {
	return &Error{Code: CodeLimit, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first domain error in err's chain, or the
// empty Code when err is not a domain error (an internal failure).
func ErrorCode(err error) Code {
	var de *Error
	if errors.As(err, &de) {
		return de.Code
	}
	return ""
}

// Invalids is several invalid fields of one input, reported together so a client fixes
// them in one round trip. errors.As finds its first *Error, so callers that branch on one
// code keep working.
type Invalids []*Error

// Error returns the first field's message and how many more there are.
func (v Invalids) Error() string {
	switch len(v) {
	case 0:
		return "invalid input"
	case 1:
		return v[0].Message
	}
	return fmt.Sprintf("%s (and %d more invalid fields)", v[0].Message, len(v)-1)
}

// Unwrap returns each field's error.
func (v Invalids) Unwrap() []error {
	out := make([]error, len(v))
	for i, e := range v {
		out[i] = e
	}
	return out
}
