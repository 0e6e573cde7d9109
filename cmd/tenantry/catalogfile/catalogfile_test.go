package catalogfile_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/cmd/tenantry/catalogfile"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
)

const exampleCatalog = "../plans.example.yaml"

// The README's example catalog parses as documented.
func TestReadCatalogYAML_ReadsTheExampleFile(t *testing.T) {
	f, err := os.Open(exampleCatalog)
	require.NoError(t, err)
	defer f.Close()
	defs, err := catalogfile.Read(f)
	require.NoError(t, err)
	require.Len(t, defs.Metrics, 2)
	require.Len(t, defs.Plans, 3)
	pro := defs.Plans[1]
	require.Equal(t, 14, pro.TrialDays)
	require.Equal(t, plans.Price{Amount: 290000, Currency: "usd"}, pro.Intervals[plans.Yearly])
	storage, _ := usage.ParseMetric("storage_gb")
	require.Equal(t, "50.5", pro.Metrics[storage].Included.String())
	require.Equal(t, plans.BeyondSoft, pro.Metrics[storage].Beyond)
	require.Equal(t, domain.Limits{Seats: 25, RequestsPerSecond: 50, Burst: 100}, pro.Limits)
}

func TestReadCatalogYAML_IsStrictAndBounded(t *testing.T) {
	ok := "plans:\n  - {key: a, name: A, intervals: {monthly: {}}, limits: {seats: 1, requests_per_second: 1, burst: 1}}\n"
	_, err := catalogfile.Read(strings.NewReader(ok))
	require.NoError(t, err)
	for name, doc := range map[string]string{
		"UnknownField":   ok + "colour: red\n",
		"UnknownInPlan":  strings.Replace(ok, "name: A", "name: A, price: 5", 1),
		"TwoDocuments":   ok + "---\n" + ok,
		"DuplicateKey":   "plans: []\nplans: []\n",
		"NotYAML":        "plans: [",
		"TooLarge":       ok + "#" + strings.Repeat("x", plans.MaxDocumentBytes),
		"BadQuota":       strings.Replace(ok, "burst: 1}", "burst: 1}, metrics: {m: {included: 1.5, beyond: hard}}", 1),
		"AliasBomb":      "a: &a [x, x]\nb: &b [*a, *a]\nplans: [*b]\n",
		"WrongTypeSeats": strings.Replace(ok, "seats: 1", "seats: many", 1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := catalogfile.Read(strings.NewReader(doc))
			require.Error(t, err)
			require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err), err.Error())
		})
	}
}
