package eventstore_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

// ReadTenantBounded's doc comment: a page ends before its documents pass MaxPageBytes as
// stored, holds at least one event, and reading on until an empty page yields every event.
func TestReadTenantBounded_PagesEndBeforeMaxPageBytes(t *testing.T) {
	s := appStore(t, 4)
	tenant := newTenant(t)
	const n, size = 6, 300 << 10 // incompressible: about four fit in MaxPageBytes
	for i := 0; i < n; i++ {
		e := ev("blob.added", i)
		raw := make([]byte, size/2)
		_, err := rand.Read(raw)
		require.NoError(t, err)
		e.Data, err = json.Marshal(map[string]string{"blob": hex.EncodeToString(raw)})
		require.NoError(t, err)
		_, err = s.Append(ctx(t), tenant, "blobs", eventstore.Any, e)
		require.NoError(t, err)
	}
	var seqs []int64
	after, pages := int64(0), 0
	for {
		page, err := s.ReadTenantBounded(ctx(t), tenant, after, eventstore.MaxPage)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		pages++
		total := 0
		for _, e := range page {
			total += len(e.Data)
			seqs = append(seqs, e.Seq)
		}
		require.LessOrEqual(t, total, eventstore.MaxPageBytes+size+1024, "a page passes MaxPageBytes by at most its last event")
		require.Less(t, len(page), n, "a page of %d bytes of documents was not cut", total)
		after = page[len(page)-1].Seq
	}
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6}, seqs)
	require.GreaterOrEqual(t, pages, 2)
}
