package sweeps

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/flatsweep/flatsweep/compute"
)

// Point is a trial's position on the grid: the values of the swept axes. The
// optional axes (N, Momentum, WeightDecay) are set only when the sweep's grid
// has them.
type Point struct {
	BatchSize   int     `json:"batch_size"`
	LR          float64 `json:"lr"`
	Seed        int64   `json:"seed"`
	N           int     `json:"n,omitempty"`
	Momentum    float64 `json:"momentum,omitempty"`
	WeightDecay float64 `json:"weight_decay,omitempty"`
}

// String formats the point for display, as "batch_size=16 lr=0.05 seed=1",
// preceded by "n=… momentum=… weight_decay=…" for the optional axes that are
// non-zero.
func (p Point) String() string {
	var b strings.Builder
	if p.N != 0 {
		b.WriteString("n=" + strconv.Itoa(p.N) + " ")
	}
	if p.Momentum != 0 {
		b.WriteString("momentum=" + strconv.FormatFloat(p.Momentum, 'g', -1, 64) + " ")
	}
	if p.WeightDecay != 0 {
		b.WriteString("weight_decay=" + strconv.FormatFloat(p.WeightDecay, 'g', -1, 64) + " ")
	}
	return b.String() + "batch_size=" + strconv.Itoa(p.BatchSize) +
		" lr=" + strconv.FormatFloat(p.LR, 'g', -1, 64) +
		" seed=" + strconv.FormatInt(p.Seed, 10)
}

// Trial is one grid point of a sweep, ready to run.
type Trial struct {
	// ID is TrialID(Spec).
	ID string `json:"id"`
	// Index is the trial's position in the expansion order, 0-based.
	Index int `json:"index"`
	// Axes are the values of the swept axes, for display.
	Axes Point `json:"axes"`
	// Spec is the complete trial spec.
	Spec compute.TrialSpec `json:"spec"`
}

// Expand returns the trials of the sweep: the Cartesian product of the grid's
// axes in a fixed order, each axis in the order written: the optional axes
// n, momentum and weight_decay outermost (in that order; an omitted axis has
// the single value of its fixed setting), then batch_size, lr, and seed
// innermost. A sweep without optional axes thus expands exactly as before
// they existed, and trial i has
//
//	batch_size = BatchSize[(i / (|lr|·|seed|)) mod |batch_size|]
//	lr         = LR[(i / |seed|) mod |lr|]
//	seed       = Seed[i mod |seed|]
//
// with the optional axes varying slowest. The trials share the spec's lists
// (hidden widths, milestones, file lists): treat a trial's Spec as read-only,
// or clone what you change. The trials of a spec returned by Parse have
// distinct IDs, since its axes have no duplicates.
//
// IDs are computed without encoding each trial: per combination of the
// optional axes, the canonical JSON is encoded once as a SpecTemplate, and
// each trial's JSON is spliced together from that template and the
// encodings of its batch_size, lr and seed. NewSpecTemplate checks the
// template on the combination's first trial; should that fail, the
// combination is encoded trial by trial.
func (s *Spec) Expand() []Trial {
	trials := make([]Trial, 0, s.Grid.Len())
	s.ForEachTrial(func(t *Trial) { trials = append(trials, *t) })
	return trials
}

// ForEachTrial calls fn for each trial in the order of Expand without
// building the whole list: t (and its Spec) is reused between calls, so fn
// must copy what it keeps. For very large grids it saves the memory of a
// full spec per trial.
func (s *Spec) ForEachTrial(fn func(t *Trial)) {
	ns, moms, wds := axisOr(s.Grid.N, s.Dataset.N), axisOr(s.Grid.Momentum, s.Train.Optimizer.Momentum),
		axisOr(s.Grid.WeightDecay, s.Train.WeightDecay)
	bJSON, lrJSON, seedJSON := encodeAxis(s.Grid.BatchSize), encodeAxis(s.Grid.LR), encodeAxis(s.Grid.Seed)
	var buf []byte
	var t Trial
	index := 0
	for _, n := range ns {
		for _, m := range moms {
			for _, wd := range wds {
				// Checked on the combination's first trial; without a template
				// every trial is encoded in full.
				tmpl, ok := NewSpecTemplate(s.trialSpec(n, m, wd, s.Grid.BatchSize[0], s.Grid.LR[0], s.Grid.Seed[0]))
				for bi, b := range s.Grid.BatchSize {
					for li, lr := range s.Grid.LR {
						for si, seed := range s.Grid.Seed {
							t.Spec = s.trialSpec(n, m, wd, b, lr, seed)
							t.Axes = Point{BatchSize: b, LR: lr, Seed: seed}
							if len(s.Grid.N) > 0 {
								t.Axes.N = n
							}
							if len(s.Grid.Momentum) > 0 {
								t.Axes.Momentum = m
							}
							if len(s.Grid.WeightDecay) > 0 {
								t.Axes.WeightDecay = wd
							}
							if ok {
								buf = tmpl.Splice(buf[:0], bJSON[bi], lrJSON[li], seedJSON[si])
								t.ID = TrialIDOf(buf)
							} else {
								t.ID = TrialID(t.Spec)
							}
							t.Index = index
							index++
							fn(&t)
						}
					}
				}
			}
		}
	}
}

// encodeAxis returns the JSON encoding of each value of an axis.
func encodeAxis[T int | int64 | float64](xs []T) [][]byte {
	out := make([][]byte, len(xs))
	for i, x := range xs {
		out[i], _ = json.Marshal(x)
	}
	return out
}

// axisOr returns the axis, or the single fixed value when it is empty.
func axisOr[T any](axis []T, fixed T) []T {
	if len(axis) == 0 {
		return []T{fixed}
	}
	return axis
}

// trialSpec returns the trial spec of one grid point, with its own copies of
// every list.
func (s *Spec) trialSpec(n int, m, wd float64, b int, lr float64, seed int64) compute.TrialSpec {
	ts := compute.TrialSpec{
		Dataset:     s.Dataset,
		Model:       s.Model,
		BatchSize:   b,
		LR:          lr,
		Epochs:      s.Train.Epochs,
		Seed:        seed,
		Curvature:   s.Curvature,
		Steps:       s.Train.Steps,
		WeightDecay: wd,
		Optimizer:   s.Train.Optimizer,
		Schedule:    s.Train.Schedule,
		Augment:     s.Train.Augment,
		WarmStart:   s.Train.WarmStart,
	}
	ts.Dataset.N = n
	ts.Optimizer.Momentum = m
	return ts
}

// HashWarmStart fills in train.warm_start.sha256 with the SHA-256 digest of
// the warm-start file when a path is given without a digest, so that the
// file's content becomes part of every trial's identity. It reads the file
// (relative paths from the current directory) and must therefore run where
// the file is; a spec without warm start is left unchanged. A given digest
// is not checked here (compute.RunTrial checks it).
func (s *Spec) HashWarmStart() error {
	w := &s.Train.WarmStart
	if w.Path == "" || w.SHA256 != "" {
		return nil
	}
	f, err := os.Open(w.Path)
	if err != nil {
		return fmt.Errorf("train.warm_start.path: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("train.warm_start.path: %w", err)
	}
	w.SHA256 = hex.EncodeToString(h.Sum(nil))
	return nil
}

// TrialIDPrefix starts every trial ID.
const TrialIDPrefix = "t-"

// TrialID returns the stable identity of a trial:
//
//	"t-" + hex(SHA-256(CanonicalTrial(spec)))[:32]
//
// that is, 128 bits of the SHA-256 digest of the spec's canonical JSON, as 32
// lowercase hex digits. The same spec always has the same ID, whichever sweep
// declares it; changing any field changes it. A spec that has no canonical form
// (a NaN or infinite float, which validation rejects) gets an ID with the prefix
// "x-" hashed from its Go syntax representation instead, so it can never collide
// with the ID of a valid spec.
func TrialID(spec compute.TrialSpec) string {
	b, err := CanonicalTrial(spec)
	if err != nil {
		sum := sha256.Sum256(fmt.Appendf(nil, "%#v", spec))
		return "x-" + hex.EncodeToString(sum[:16])
	}
	return TrialIDOf(b)
}

// TrialIDOf returns the trial ID of a spec given as its canonical JSON (see
// CanonicalTrial): TrialIDPrefix and the first 128 bits of its SHA-256, in hex.
func TrialIDOf(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return TrialIDPrefix + hex.EncodeToString(sum[:16])
}

// CanonicalTrial returns the canonical form of a trial spec: its encoding/json
// encoding (fields in declaration order, omitempty fields left out when zero,
// floats in shortest round-trip form). It fails only for a NaN or infinite
// float.
func CanonicalTrial(spec compute.TrialSpec) ([]byte, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("canonical trial spec: %w", err)
	}
	return b, nil
}
