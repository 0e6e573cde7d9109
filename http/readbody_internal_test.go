package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readBody answers the body whatever it states about its length, refuses one that ends short
// of it, and passes the size limit's refusal on.
func TestReadBody_ReadsWhatWasSentAndRefusesAShortBody(t *testing.T) {
	read := func(body string, stated int64) ([]byte, error) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.ContentLength = stated
		return readBody(r)
	}
	for _, tc := range []struct {
		name, body string
		stated     int64
	}{
		{"as stated", `{"a":1}`, 7},
		{"empty", "", 0},
		{"unstated (chunked)", `{"a":1}`, -1},
		{"longer than stated", `{"a":1}`, 3},
		{"stated beyond the sized read", strings.Repeat("x", maxSizedRead+10), maxSizedRead + 10},
	} {
		got, err := read(tc.body, tc.stated)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.body, string(got), tc.name)
	}

	_, err := read(`{"a"`, 7)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "a body that ends short of its stated length")

	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 100)))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10)
	_, err = readBody(r)
	require.True(t, isTooLarge(err), "the size limit's refusal: %v", err)
}
