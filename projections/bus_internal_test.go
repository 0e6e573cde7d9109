package projections

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/stretchr/testify/require"
)

// The bus's logger drops Watermill's debug and trace lines only when the log would discard
// them; info and errors always pass, with their fields.
func TestBusLogger_PassesWhatTheLogKeeps(t *testing.T) {
	for _, tc := range []struct {
		level        slog.Level
		debug, trace bool
	}{
		{slog.LevelInfo, false, false},
		{slog.LevelDebug, true, false},
		{watermill.LevelTrace, true, true},
	} {
		var buf bytes.Buffer
		l := busLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level}))).
			With(watermill.LogFields{"topic": "t"})
		l.Trace("trace line", watermill.LogFields{"k": 1})
		l.Debug("debug line", watermill.LogFields{"k": 2})
		l.Info("info line", watermill.LogFields{"k": 3})
		out := buf.String()
		require.Equal(t, tc.trace, bytes.Contains(buf.Bytes(), []byte("trace line")), out)
		require.Equal(t, tc.debug, bytes.Contains(buf.Bytes(), []byte("debug line")), out)
		require.Contains(t, out, `msg="info line" topic=t k=3`)
	}
}
