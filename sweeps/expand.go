package sweeps

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/flatsweep/flatsweep/compute"
)

// Point is a trial's position on the grid: the values of the swept axes.
type Point struct {
	BatchSize int     `json:"batch_size"`
	LR        float64 `json:"lr"`
	Seed      int64   `json:"seed"`
}

// String formats the point for display, as "batch_size=16 lr=0.05 seed=1".
func (p Point) String() string {
	return "batch_size=" + strconv.Itoa(p.BatchSize) +
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
// axes in a fixed order, batch_size outermost, then lr, then seed innermost,
// each axis in the order written. Trial i thus has
//
//	batch_size = BatchSize[i / (|lr|·|seed|)]
//	lr         = LR[(i / |seed|) mod |lr|]
//	seed       = Seed[i mod |seed|]
//
// Every trial gets its own copy of the model's hidden widths. The trials of a
// spec returned by Parse have distinct IDs, since its axes have no duplicates.
func (s *Spec) Expand() []Trial {
	trials := make([]Trial, 0, s.Grid.Len())
	for _, b := range s.Grid.BatchSize {
		for _, lr := range s.Grid.LR {
			for _, seed := range s.Grid.Seed {
				ts := compute.TrialSpec{
					Dataset:   s.Dataset,
					Model:     s.Model,
					BatchSize: b,
					LR:        lr,
					Epochs:    s.Train.Epochs,
					Seed:      seed,
					Curvature: s.Curvature,
				}
				ts.Model.Hidden = slices.Clone(s.Model.Hidden)
				trials = append(trials, Trial{
					ID:    TrialID(ts),
					Index: len(trials),
					Axes:  Point{BatchSize: b, LR: lr, Seed: seed},
					Spec:  ts,
				})
			}
		}
	}
	return trials
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
	prefix := TrialIDPrefix
	if err != nil {
		b, prefix = fmt.Appendf(nil, "%#v", spec), "x-"
	}
	sum := sha256.Sum256(b)
	return prefix + hex.EncodeToString(sum[:16])
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
