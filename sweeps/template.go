package sweeps

import (
	"bytes"
	"math"
	"slices"
	"strconv"

	"github.com/flatsweep/flatsweep/compute"
)

// Sentinels stand in for a trial's batch_size, lr and seed in a template;
// their encodings cannot occur elsewhere in a spec's JSON by accident, and
// NewSpecTemplate checks that each occurs exactly once.
const (
	sentinelB    = 987654321987
	sentinelLR   = 0.98765432198765
	sentinelSeed = 987654321989
)

// SpecTemplate is the canonical JSON (see CanonicalTrial) shared by the
// trials that differ from one spec only in batch_size, lr and seed, cut at
// those three values: parts[0] v parts[1] v parts[2] v parts[3], the values
// in the order given by order (indexes into batch_size, lr, seed). Splicing
// a trial's values into it gives, byte for byte, the trial's canonical JSON
// without encoding the whole spec. A SpecTemplate is immutable.
type SpecTemplate struct {
	parts [4][]byte
	order [3]int
}

// NewSpecTemplate returns the template of the trials that share spec's
// values except batch_size, lr and seed, checked on spec itself: its own
// values spliced in give its CanonicalTrial. ok is false when the spec's
// JSON cannot be cut there or the check fails (encode such trials with
// CanonicalTrial).
func NewSpecTemplate(spec compute.TrialSpec) (*SpecTemplate, bool) {
	want, err := CanonicalTrial(spec)
	if err != nil {
		return nil, false
	}
	b, lr, seed := spec.BatchSize, spec.LR, spec.Seed
	spec.BatchSize, spec.LR, spec.Seed = sentinelB, sentinelLR, sentinelSeed
	js, err := CanonicalTrial(spec)
	if err != nil {
		return nil, false
	}
	marks := [3][]byte{
		[]byte(`"batch_size":` + strconv.Itoa(sentinelB)),
		[]byte(`"lr":` + strconv.FormatFloat(sentinelLR, 'f', -1, 64)),
		[]byte(`"seed":` + strconv.Itoa(sentinelSeed)),
	}
	type cut struct{ at, end, which int }
	var cuts []cut
	for i, m := range marks {
		if bytes.Count(js, m) != 1 {
			return nil, false
		}
		at := bytes.Index(js, m)
		key := bytes.IndexByte(m, ':') + 1
		cuts = append(cuts, cut{at + key, at + len(m), i})
	}
	slices.SortFunc(cuts, func(a, b cut) int { return a.at - b.at })
	t := &SpecTemplate{}
	prev := 0
	for i, c := range cuts {
		t.parts[i] = js[prev:c.at]
		t.order[i] = c.which
		prev = c.end
	}
	t.parts[3] = js[prev:]
	if !bytes.Equal(t.Append(nil, b, lr, seed), want) {
		return nil, false
	}
	return t, true
}

// Splice appends the JSON of the trial whose batch_size, lr and seed have
// the given JSON encodings.
func (t *SpecTemplate) Splice(dst, b, lr, seed []byte) []byte {
	vals := [3][]byte{b, lr, seed}
	for i := 0; i < 3; i++ {
		dst = append(dst, t.parts[i]...)
		dst = append(dst, vals[t.order[i]]...)
	}
	return append(dst, t.parts[3]...)
}

// Append appends the canonical JSON of the trial with batch size b, learning
// rate lr and seed seed. lr must be finite (validation ensures it).
func (t *SpecTemplate) Append(dst []byte, b int, lr float64, seed int64) []byte {
	var buf [64]byte
	eb := strconv.AppendInt(buf[:0], int64(b), 10)
	elr := appendJSONFloat(eb[len(eb):], lr)
	eseed := strconv.AppendInt(elr[len(elr):], seed, 10)
	return t.Splice(dst, eb, elr, eseed)
}

// appendJSONFloat appends f as encoding/json encodes a float64: the shortest
// representation that round-trips, in exponent form only below 1e-6 or from
// 1e21 on, with a two-digit exponent written without a leading zero.
func appendJSONFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9, as encoding/json writes it.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
