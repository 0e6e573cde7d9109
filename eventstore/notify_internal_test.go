package eventstore

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestNotifyPayloads_CarryEveryHeadWithinTheLimitOrSayOnlyThatSomethingMoved(t *testing.T) {
	for _, n := range []int{1, 3, 150, 400, maxNotifyTenants} {
		heads := map[uuid.UUID]int64{}
		for i := range n {
			heads[uuid.New()] = int64(i*1_000_003 + 1)
		}
		got := map[uuid.UUID]int64{}
		payloads := notifyPayloads(heads)
		for _, p := range payloads {
			require.LessOrEqual(t, len(p), maxNotifyPayload)
			require.True(t, ownNotification(p))
			require.True(t, parseNotifyHeads(p, func(id uuid.UUID, seq int64) { got[id] = seq }))
		}
		require.Equal(t, heads, got, "%d heads in %d payloads", n, len(payloads))
	}
	many := map[uuid.UUID]int64{}
	for range maxNotifyTenants + 1 {
		many[uuid.New()] = 1
	}
	require.Equal(t, []string{processToken}, notifyPayloads(many))
	require.Equal(t, []string{processToken}, notifyPayloads(nil))
}

func TestParseNotifyHeads_RefusesAnythingButAListOfHeads(t *testing.T) {
	id := uuid.New().String()
	for _, p := range []string{"", "token", "token ", "token " + id, "token " + id + "=", "token " + id + "=-1",
		"token " + id + "=1,", "token nope=1", "token " + id + "=1x", "token " + id + "=99999999999999999999",
		"another-process", strings.Repeat("x", 9000)} {
		called := false
		require.False(t, parseNotifyHeads(p, func(uuid.UUID, int64) { called = true }), p)
		require.False(t, called, "a payload refused moves nothing: %q", p)
	}
	require.False(t, ownNotification("another-process"))
	require.False(t, ownNotification(processToken+"x"))
}

func FuzzParseNotifyHeads(f *testing.F) {
	f.Add("t " + uuid.New().String() + "=5")
	f.Add("t a=1,b=2")
	f.Fuzz(func(t *testing.T, p string) {
		parseNotifyHeads(p, func(_ uuid.UUID, seq int64) {
			if seq < 0 {
				t.Fatalf("negative seq from %q", p)
			}
		})
	})
}
