package dashboard

import (
	"bytes"
	"net/http"
	"sync"
	"time"

	"github.com/flatsweep/flatsweep/analysis"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
)

// sweepData is what the sweep page and its figures compute from all of a
// sweep's trials, kept per sweep and shared by every open page.
type sweepData struct {
	version  int           // the coordinator's SweepVersion it was computed at
	computed time.Time     // when
	cost     time.Duration // how long it took
	trials   []*pb.Trial
	recs     []results.Record
	points   []analysis.Point
	analysis string
	varying  []string          // results.Varying of recs
	fixed    map[string]string // of the named axes that do not vary

	figMu   sync.Mutex
	figures map[string][]byte // rendered SVG, by figure name
}

// sweepCache holds the sweepData of the sweeps pages asked for.
type sweepCache struct {
	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	mu   sync.Mutex // held while computing: one computation per sweep at a time
	data *sweepData
}

// minRecompute and costFactor bound how often a changing sweep is
// recomputed: not within minRecompute of the last computation, nor within
// costFactor times what it cost. A large sweep that is busy therefore costs
// the coordinator at most 1/costFactor of a core for all its open pages,
// and its pages say how old their numbers are.
const (
	minRecompute = time.Second
	costFactor   = 4
)

// sweep returns the current data of a sweep: the cached one while the
// sweep is unchanged or was recomputed too recently, else a fresh one.
func (s *Server) sweep(r *http.Request, id string) (*sweepData, error) {
	s.cache.mu.Lock()
	e := s.cache.entries[id]
	if e == nil {
		e = &cacheEntry{}
		s.cache.entries[id] = e
	}
	s.cache.mu.Unlock()
	version := s.c.SweepVersion(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.data; d != nil {
		age := time.Since(d.computed)
		if d.version == version || age < max(minRecompute, costFactor*d.cost) {
			return d, nil
		}
	}
	start := time.Now()
	trials, recs, err := s.records(r, id)
	if err != nil {
		if e.data == nil { // never computed (an unknown sweep): keep no entry for it
			s.cache.mu.Lock()
			if s.cache.entries[id] == e {
				delete(s.cache.entries, id)
			}
			s.cache.mu.Unlock()
		}
		return nil, err
	}
	points := analysis.PointsFromRecords(recs)
	var text bytes.Buffer
	if err := analysis.WriteAnalysisTable(&text, analysis.Analyze(id, points)); err != nil {
		return nil, err
	}
	varying, fixed := results.Varying(recs)
	e.data = &sweepData{version: version, computed: start, cost: time.Since(start), trials: trials, recs: recs,
		points: points, analysis: text.String(), varying: varying, fixed: fixed, figures: map[string][]byte{}}
	return e.data, nil
}

// figure returns a figure of the data, rendered once per computation.
func (d *sweepData) figure(name string, draw func([]analysis.Point) *analysis.Figure) ([]byte, error) {
	d.figMu.Lock()
	defer d.figMu.Unlock()
	if b, ok := d.figures[name]; ok {
		return b, nil
	}
	var b bytes.Buffer
	if err := draw(d.points).Write(&b, "svg"); err != nil {
		return nil, err
	}
	d.figures[name] = b.Bytes()
	return d.figures[name], nil
}
