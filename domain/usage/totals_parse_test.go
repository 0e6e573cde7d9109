package usage_test

import (
	"testing"
	"time"

	"github.com/tenantry/tenantry/domain/usage"
)

func TestParsePeriodTotal_ReadsTheStoresTextAndRefusesWhatIsNotAMetricOrADecimal(t *testing.T) {
	period := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	pt, err := usage.ParsePeriodTotal("storage_gb", period, "30.5", "12.25", "3", []byte{1})
	if err != nil {
		t.Fatal(err)
	}
	if pt.Metric.String() != "storage_gb" || pt.Sum.String() != "30.5" || pt.Used(usage.AggregationMax).String() != "12.25" ||
		pt.Used(usage.AggregationLast).String() != "3" || !pt.Period.Equal(period) || len(pt.LastKey) != 1 {
		t.Fatalf("parsed %+v", pt)
	}
	pt, err = usage.ParsePeriodTotal("api_calls", period, "7", "", "", nil)
	if err != nil || pt.Used(usage.AggregationSum).String() != "7" || pt.Used(usage.AggregationMax).Sign() != 0 {
		t.Fatalf("a total without readings: %+v, %v", pt, err)
	}
	for _, bad := range [][4]string{{"Bad Metric", "1", "", ""}, {"api_calls", "x", "", ""}, {"api_calls", "1", "1e3", "1"}} {
		if _, err := usage.ParsePeriodTotal(bad[0], period, bad[1], bad[2], bad[3], nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
