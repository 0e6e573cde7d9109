package projections_test

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/projections"
)

// Processes of one deployment start together and each makes sure the events stream
// exists: every one of them gets its bus. This did not reproduce the "subjects overlap"
// answer CI once saw (30 runs here passed with and without NewNATSBus's tolerance of it), so
// it guards concurrent creation in general, not that tolerance.
func TestNewNATSBus_ManyProcessesStartingTogetherAllGetTheStream(t *testing.T) {
	url := os.Getenv("NATS_URL")
	if url == "" {
		if os.Getenv("WITH_ENV_SERVICES") == "1" { // make test starts NATS: a skip here would hide the test
			t.Fatal("NATS_URL is not set under `make test`: .ci/with-env starts NATS and sets it")
		}
		t.Skip("NATS_URL is not set: run `make test` (it starts NATS)")
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	cluster := "race-" + hex.EncodeToString(suffix)
	t.Cleanup(func() {
		if nc, err := nats.Connect(url); err == nil {
			if js, err := nc.JetStream(); err == nil {
				_ = js.DeleteStream(strings.ToUpper(strings.ReplaceAll(cluster, "-", "_")) + "_EVENTS")
			}
			nc.Close()
		}
	})
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bus, err := projections.NewNATSBus(url, cluster, "race-test", slog.New(slog.DiscardHandler))
			if err == nil {
				err = bus.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}
