package lease

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// metrics are the coordinator's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	transitions *prometheus.CounterVec
	results     prometheus.Counter
	acquire     prometheus.Histogram
	workers     prometheus.Gauge
	leases      prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flatsweep_trial_transitions_total",
			Help: "Trial state transitions, by source and target state.",
		}, []string{"from", "to"}),
		results: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flatsweep_results_total",
			Help: "Trial results recorded (rate() gives results per second).",
		}),
		acquire: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "flatsweep_lease_acquire_seconds",
			Help:    "Time to grant a lease to a worker whose request found a pending trial.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
		workers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flatsweep_workers",
			Help: "Registered workers seen within three lease TTLs.",
		}),
		leases: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flatsweep_leases",
			Help: "Leases currently held by workers.",
		}),
	}
	m.reg.MustRegister(m.transitions, m.results, m.acquire, m.workers, m.leases,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) transition(from, to pb.TrialState) {
	if from == to {
		return
	}
	m.transitions.WithLabelValues(store.StateName(from), store.StateName(to)).Inc()
	if to == pb.TrialState_TRIAL_STATE_SUCCEEDED {
		m.results.Inc()
	}
}

func (m *metrics) setWorkers(n int) { m.workers.Set(float64(n)) }
func (m *metrics) setLeases(n int)  { m.leases.Set(float64(n)) }

// stateCollector reports the number of trials in each state, over all sweeps.
type stateCollector struct {
	c    *Core
	desc *prometheus.Desc
}

func (s stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

func (s stateCollector) Collect(ch chan<- prometheus.Metric) {
	var totals [numStates]int32
	s.c.mu.Lock()
	for _, sw := range s.c.sweeps {
		for i, n := range sw.counts {
			totals[i] += n
		}
	}
	s.c.mu.Unlock()
	for i := 1; i < numStates; i++ {
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, float64(totals[i]), store.StateName(pb.TrialState(i)))
	}
}

// MetricsHandler returns an HTTP handler serving the coordinator's metrics in
// the Prometheus exposition format: flatsweep_trials{state}, lease acquire
// latency, workers, leases, results and transitions, plus Go runtime metrics.
func (c *Core) MetricsHandler() http.Handler {
	c.metricsOnce.Do(func() {
		c.metrics.reg.MustRegister(stateCollector{c: c, desc: prometheus.NewDesc(
			"flatsweep_trials", "Trials by state, over all sweeps.", []string{"state"}, nil)})
	})
	return promhttp.HandlerFor(c.metrics.reg, promhttp.HandlerOpts{})
}
