package domain_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func TestCursor_RoundTripsIDsAndSeqs(t *testing.T) {
	id := uuid.New()
	got, err := domain.ParseIDCursor(domain.ListMembers, domain.IDCursor(domain.ListMembers, id))
	require.NoError(t, err)
	require.Equal(t, id, got)
	seq, err := domain.ParseSeqCursor(domain.ListAuditEvents, domain.SeqCursor(domain.ListAuditEvents, 42))
	require.NoError(t, err)
	require.EqualValues(t, 42, seq)
	start, err := domain.ParseIDCursor(domain.ListMembers, "")
	require.NoError(t, err)
	require.Equal(t, uuid.Nil, start, "no cursor is the start")
	require.NotContains(t, domain.IDCursor(domain.ListTenants, id), "=", "base64url without padding")
}

func TestCursor_RefusesWhatTheServerDidNotIssue(t *testing.T) {
	id := uuid.New()
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for name, c := range map[string]string{
		"garbage":            "not a cursor!",
		"another list":       domain.IDCursor(domain.ListAPIKeys, id),
		"wrong version":      b64("v2.members." + id.String()),
		"no version":         b64(id.String()),
		"padded":             base64.URLEncoding.EncodeToString([]byte("v1.members." + id.String())),
		"standard alphabet":  strings.NewReplacer("-", "+", "_", "/").Replace(b64("v1.members.\xfb\xff" + id.String())),
		"uppercase id":       b64("v1.members." + strings.ToUpper(id.String())),
		"id without hyphens": b64("v1.members." + strings.ReplaceAll(id.String(), "-", "")),
		"urn id":             b64("v1.members.urn:uuid:" + id.String()),
		"trailing bytes":     b64("v1.members." + id.String() + "x"),
		"base64 junk":        b64("\x00\xff\xfe junk"),
		"huge":               strings.Repeat("A", 1<<20),
		"seq in an id list":  b64("v1.members.7"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := domain.ParseIDCursor(domain.ListMembers, c)
			require.Error(t, err)
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			require.Equal(t, domain.CodeInvalid, de.Code)
			require.Equal(t, "cursor", de.Field)
		})
	}
	for name, c := range map[string]string{
		"zero":           b64("v1.audit-events.0"),
		"negative":       b64("v1.audit-events.-1"),
		"leading zero":   b64("v1.audit-events.07"),
		"plus sign":      b64("v1.audit-events.+7"),
		"overflow":       b64("v1.audit-events.9223372036854775808"),
		"an id":          b64("v1.audit-events." + id.String()),
		"another list's": domain.SeqCursor(domain.ListMembers, 7),
	} {
		t.Run("seq "+name, func(t *testing.T) {
			_, err := domain.ParseSeqCursor(domain.ListAuditEvents, c)
			require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err))
		})
	}
}

func TestPageLimit_AcceptsOneToMaxAndDefaults(t *testing.T) {
	for in, want := range map[string]int{"": 100, "1": 1, "1000": 1000, "37": 37} {
		n, err := domain.ParsePageLimit(in, domain.DefaultPageLimit, domain.MaxPageLimit)
		require.NoError(t, err, in)
		require.Equal(t, want, n, in)
	}
	for _, in := range []string{"0", "-1", "1001", "1.5", "ten", " 5", "99999999999999999999"} {
		_, err := domain.ParsePageLimit(in, domain.DefaultPageLimit, domain.MaxPageLimit)
		require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err), in)
		require.ErrorContains(t, err, "from 1 to 1000", in)
	}
}

func TestPageRequest_ReportsABadCursorAndABadLimitTogether(t *testing.T) {
	_, err := domain.ParsePageRequest(domain.ListMembers, "junk", "0")
	var many domain.Invalids
	require.ErrorAs(t, err, &many)
	require.Len(t, many, 2)
	require.Equal(t, "cursor", many[0].Field)
	require.Equal(t, "limit", many[1].Field)
}

func TestNewPage_HasMoreOnlyWhenARowBeyondTheLimitCame(t *testing.T) {
	cur := func(n int) string { return domain.SeqCursor(domain.ListAuditEvents, int64(n)) }
	exact := domain.NewPage([]int{1, 2, 3}, 3, cur)
	require.Equal(t, []int{1, 2, 3}, exact.Items)
	require.False(t, exact.HasMore)
	require.Nil(t, exact.NextCursor)

	more := domain.NewPage([]int{1, 2, 3, 4}, 3, cur)
	require.Equal(t, []int{1, 2, 3}, more.Items)
	require.True(t, more.HasMore)
	require.Equal(t, cur(3), *more.NextCursor, "the next page starts after the last item shown")

	empty := domain.NewPage[int](nil, 3, cur)
	require.NotNil(t, empty.Items, "an empty page's items encode as [], never null")
	require.Empty(t, empty.Items)
	require.False(t, empty.HasMore)
	require.Nil(t, empty.NextCursor)
}

// FuzzCursorDecode checks the cursor decoders never panic, accept only what the encoders
// issue (a cursor accepted is re-issued byte for byte), and refuse everything else as an
// invalid "cursor" field.
func FuzzCursorDecode(f *testing.F) {
	for _, s := range []string{"", "junk", "djEubWVtYmVycy40Y2ZlZGY0Yy1iZDA0LTBiY2YtY2Y0\rYy00Y2Y0Y2ZkY2ZhZDA", domain.IDCursor(domain.ListMembers, uuid.New()), domain.SeqCursor(domain.ListAuditEvents, 9),
		domain.IDCursor(domain.ListTenants, uuid.Nil), base64.RawURLEncoding.EncodeToString([]byte("v1.members.")), "====", strings.Repeat("Q", 97)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, list := range []string{domain.ListMembers, domain.ListTenants} {
			id, err := domain.ParseIDCursor(list, in)
			switch {
			case err != nil:
				var de *domain.Error
				if !strings.Contains(err.Error(), "cursor") || !asDomain(err, &de) || de.Field != "cursor" || de.Code != domain.CodeInvalid {
					t.Fatalf("ParseIDCursor(%q): %v is not an invalid cursor field", in, err)
				}
			case in == "":
				if id != uuid.Nil {
					t.Fatalf("empty cursor gave %v", id)
				}
			case domain.IDCursor(list, id) != in:
				t.Fatalf("ParseIDCursor(%q) accepted a cursor it would not issue (it issues %q)", in, domain.IDCursor(list, id))
			}
		}
		seq, err := domain.ParseSeqCursor(domain.ListAuditEvents, in)
		if err == nil && in != "" && (seq < 1 || domain.SeqCursor(domain.ListAuditEvents, seq) != in) {
			t.Fatalf("ParseSeqCursor(%q) = %d, not a cursor it issues", in, seq)
		}
		if err != nil && domain.ErrorCode(err) != domain.CodeInvalid {
			t.Fatalf("ParseSeqCursor(%q): %v", in, err)
		}
	})
}

func asDomain(err error, de **domain.Error) bool {
	e, ok := err.(*domain.Error)
	*de = e
	return ok
}
