package migrations_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func replaceUser(t *testing.T, raw, user string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	u.User = url.User(user)
	return u.String()
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
