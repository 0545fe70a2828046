package metrics_test

import (
	"errors"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/metrics"
	"github.com/authsvc/authsvc/pkg/metrics/metricstest"
	"github.com/authsvc/authsvc/pkg/signingkeys"
)

var _ signingkeys.Metrics = metrics.KeyMetrics{}

func TestKeyMetrics(t *testing.T) {
	m := metrics.New()
	k := m.Keys()
	k.KeysRefreshed(nil)
	k.KeysRefreshed(errors.New("database down"))
	m.Keys().KeysRefreshed(nil) // a second adapter shares the metrics
	fams := metricstest.Scrape(t, m.Handler())
	if got := fams.Value("authsvc_signing_keys_refreshes_total", "result", "ok"); got != 2 {
		t.Errorf("ok refreshes = %v, want 2", got)
	}
	if got := fams.Value("authsvc_signing_keys_refreshes_total", "result", "error"); got != 1 {
		t.Errorf("failed refreshes = %v, want 1", got)
	}
	if got := fams.Value("authsvc_signing_keys_last_refresh_timestamp_seconds"); time.Since(time.Unix(int64(got), 0)) > time.Minute {
		t.Errorf("last refresh = %v, want about now", got)
	}
}
