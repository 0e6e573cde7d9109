package audit_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/eventstore/audit"
)

// FuzzParseHead feeds arbitrary head-file bytes to the strict head parser: it never panics,
// and whatever it accepts is a canonical head (AUDIT.md, "Heads"): without its whitespace it
// is exactly what Tenantry writes for the values read, and the plain encoding/json path reads
// the same values. `go test -run '^$' -fuzz FuzzParseHead ./eventstore/audit` searches further.
func FuzzParseHead(f *testing.F) {
	id := uuid.MustParse("0190f5c2-7a4b-7c3d-9e8f-0123456789ab")
	signed := signer.Sign(id, 42, [32]byte{1, 2, 3}, time.Date(2026, 11, 25, 10, 5, 0, 120000000, time.UTC))
	var unsigned *auditlog.Signer
	for _, h := range []audit.Head{signed, unsigned.Sign(id, 0, [32]byte{}, time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))} {
		obj, err := json.Marshal(h)
		require.NoError(f, err)
		line, err := auditlog.HeadLine(h)
		require.NoError(f, err)
		var pretty bytes.Buffer
		require.NoError(f, json.Indent(&pretty, obj, "", "\t"))
		for _, seed := range []string{string(obj), string(line), pretty.String() + "\r\n",
			strings.Replace(string(obj), `"seq":`, `"Seq":`, 1), strings.Replace(string(obj), `Z"`, `+00:00"`, 1),
			strings.Replace(string(obj), `"seq":`, `"seq":-`, 1), strings.Replace(string(obj), `}`, `,"x":1}`, 1),
			`{"head":{"tenant_id":"` + id.String() + `"}}`, `{"tenant_id":"\u0030"}`} {
			f.Add([]byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := audit.ParseHead(b)
		if err != nil {
			return
		}
		var compact bytes.Buffer
		require.NoError(t, json.Compact(&compact, b), "accepted what is not JSON: %q", b)
		want, err := json.Marshal(h)
		require.NoError(t, err)
		obj := compact.Bytes()
		if audit.IsHeadLine(b) {
			line, err := auditlog.HeadLine(h)
			require.NoError(t, err)
			require.Equal(t, string(bytes.TrimSuffix(line, []byte("\n"))), compact.String(), "accepted a head line that is not canonical")
			var w struct{ Head json.RawMessage }
			require.NoError(t, json.Unmarshal(obj, &w))
			obj = w.Head
		}
		require.Equal(t, string(want), string(obj), "accepted a head that is not canonical: %q", b)
		var plain audit.Head
		require.NoError(t, json.Unmarshal(obj, &plain))
		require.Equal(t, h, plain, "encoding/json reads other values")
	})
}
