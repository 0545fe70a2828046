package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// KeyMetrics satisfies signingkeys.Metrics: the signing-key refresh of a replica.
// A replica whose refreshes fail misses key rotations: alert on
// authsvc_signing_key_usable == 0 (it cannot sign with the active key), on
// authsvc_signing_keys_refreshes_total{result="error"} or on a stale
// authsvc_signing_keys_last_refresh_timestamp_seconds.
type KeyMetrics struct {
	refreshes *prometheus.CounterVec
	last      prometheus.Gauge
	usable    prometheus.Gauge
}

// Keys returns the adapter for signingkeys.Options.Metrics, registering its
// metrics on first use.
func (m *Metrics) Keys() KeyMetrics {
	refreshes := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace,
		Name: "signing_keys_refreshes_total", Help: "Reads of the signing keys by result (ok, error)."}, []string{"result"})
	last := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace,
		Name: "signing_keys_last_refresh_timestamp_seconds", Help: "When the signing keys were last read successfully (Unix time)."})
	usable := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace,
		Name: "signing_key_usable", Help: "1 when this replica can sign with the active signing key (or none is active), 0 when it cannot (it is not ready)."})
	return KeyMetrics{refreshes: register(m.reg, refreshes), last: register(m.reg, last), usable: register(m.reg, usable)}
}

// register registers c, or returns the collector already registered under
// its name.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// KeysRefreshed counts one read of the signing keys; err is nil on success.
func (k KeyMetrics) KeysRefreshed(err error) {
	if err != nil {
		k.refreshes.WithLabelValues("error").Inc()
		return
	}
	k.refreshes.WithLabelValues("ok").Inc()
	k.last.Set(float64(time.Now().UnixNano()) / 1e9)
}

// SigningKeyUsable sets authsvc_signing_key_usable.
func (k KeyMetrics) SigningKeyUsable(usable bool) {
	if usable {
		k.usable.Set(1)
		return
	}
	k.usable.Set(0)
}
