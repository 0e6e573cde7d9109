package domain

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Every list of the API and the CLI pages the same way: a client asks for at most limit items
// after an opaque cursor taken from the previous page's next_cursor, and each page says
// whether there is more (has_more) and where to go on (next_cursor, nil at the end). A cursor
// is base64url (no padding) of "v1.<list>.<key>", where key is the last item's id or seq: the
// pages are keyset pages, never offsets. Cursors are not signed (every query is scoped to the
// caller's tenant, so a forged one only reorders what the caller may see anyway) but are
// decoded strictly: anything the server would not have issued for that list is refused.

// Page bounds shared by every list.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
	// maxCursorLen bounds the text a cursor may be before it is decoded at all, so a huge
	// one costs nothing: the longest issued (an id cursor of the longest list name) is
	// well under it.
	maxCursorLen  = 96
	cursorVersion = "v1"
)

// Lists that page, as named inside their cursors: a cursor of one list is refused by another.
const (
	ListMembers     = "members"
	ListInvitations = "invitations"
	ListAPIKeys     = "api-keys"
	ListTenants     = "tenants"
	ListAuditEvents = "audit-events"
	ListEvents      = "events" // the event feed, GET /v1/events
)

var cursorEncoding = base64.RawURLEncoding.Strict()

// IDCursor is the cursor of a list ordered by id whose last item shown has id.
func IDCursor(list string, id uuid.UUID) string {
	return encodeCursor(list, id.String())
}

// SeqCursor is the cursor of a list ordered by seq whose last item shown has seq.
func SeqCursor(list string, seq int64) string {
	return encodeCursor(list, strconv.FormatInt(seq, 10))
}

func encodeCursor(list, key string) string {
	return cursorEncoding.EncodeToString([]byte(cursorVersion + "." + list + "." + key))
}

// ParseIDCursor reads a cursor IDCursor(list, id) issued; "" is the start (uuid.Nil).
func ParseIDCursor(list, s string) (uuid.UUID, error) {
	if s == "" {
		return uuid.Nil, nil
	}
	key, err := cursorKey(list, s)
	if err != nil {
		return uuid.Nil, err
	}
	id, perr := uuid.Parse(key)
	if perr != nil || id.String() != key {
		return uuid.Nil, errCursor()
	}
	return id, nil
}

// ParseSeqCursor reads a cursor SeqCursor(list, seq) issued; "" is the start (0).
func ParseSeqCursor(list, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	key, err := cursorKey(list, s)
	if err != nil {
		return 0, err
	}
	seq, perr := strconv.ParseInt(key, 10, 64)
	if perr != nil || seq < 1 || strconv.FormatInt(seq, 10) != key {
		return 0, errCursor()
	}
	return seq, nil
}

// cursorKey decodes s and returns its key when it is a cursor of list in the current version.
func cursorKey(list, s string) (string, error) {
	if len(s) > maxCursorLen {
		return "", errCursor()
	}
	raw, err := cursorEncoding.DecodeString(s)
	// Only the spelling the server issues: the decoder skips \r and \n, so a cursor with
	// them inside would otherwise be read as the one without.
	if err != nil || cursorEncoding.EncodeToString(raw) != s {
		return "", errCursor()
	}
	key, ok := strings.CutPrefix(string(raw), cursorVersion+"."+list+".")
	if !ok {
		return "", errCursor()
	}
	return key, nil
}

func errCursor() *Error {
	return Invalid("cursor", "cursor is not one this list issued; pass next_cursor from the previous page, or none to start")
}

// ParsePageLimit reads a page size: "" is def, else an integer from 1 to max.
func ParsePageLimit(s string, def, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, Invalid("limit", "limit must be an integer from 1 to %d", max)
	}
	return n, nil
}

// PageRequest is one page of an id-ordered list: the items after After (uuid.Nil: from the
// start), at most Limit of them.
type PageRequest struct {
	After uuid.UUID
	Limit int
}

// ParsePageRequest reads the cursor and limit of an id-ordered list (limits from 1 to
// MaxPageLimit, default DefaultPageLimit), reporting both when both are bad.
func ParsePageRequest(list, cursor, limit string) (PageRequest, error) {
	var bad Invalids
	after, err := ParseIDCursor(list, cursor)
	if err != nil {
		bad = append(bad, err.(*Error))
	}
	n, err := ParsePageLimit(limit, DefaultPageLimit, MaxPageLimit)
	if err != nil {
		bad = append(bad, err.(*Error))
	}
	switch len(bad) {
	case 0:
		return PageRequest{After: after, Limit: n}, nil
	case 1:
		return PageRequest{}, bad[0]
	}
	return PageRequest{}, bad
}

// Page is one page of a list: Items, and the cursor of the next page (nil when HasMore is
// false). Build it from up to limit+1 rows with NewPage.
type Page[T any] struct {
	Items      []T
	NextCursor *string
	HasMore    bool
}

// NewPage makes a page of at most limit items out of rows, the up to limit+1 rows a query
// asked for: a row beyond limit means there is more, and the next page starts after the
// last item kept (cursor gives its cursor).
func NewPage[T any](rows []T, limit int, cursor func(T) string) Page[T] {
	p := Page[T]{Items: rows}
	if len(rows) > limit {
		p.Items, p.HasMore = rows[:limit], true
		next := cursor(rows[limit-1])
		p.NextCursor = &next
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p
}
