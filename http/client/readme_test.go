package client_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The README's Go client block is Example's body, so the README shows code that compiles.
func TestReadme_ShowsTheExampleThatCompiles(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	src, err := os.ReadFile("example_test.go")
	require.NoError(t, err)

	_, after, ok := strings.Cut(string(readme), "**Go client.**")
	require.True(t, ok, "the README has a Go client section")
	_, block, ok := strings.Cut(after, "```go\n")
	require.True(t, ok, "the Go client section has a go block")
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)

	_, body, ok := strings.Cut(string(src), "func Example() {\n")
	require.True(t, ok, "example_test.go has func Example")
	body = body[:strings.LastIndex(body, "}")]
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	require.Equal(t, strings.Join(lines, "\n")+"\n", block, "README's Go client block and Example's body differ")
}
