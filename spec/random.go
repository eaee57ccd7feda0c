package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
)

// Distribution kinds accepted in Distribution.Dist.
const (
	DistUniform    = "uniform"
	DistLogUniform = "log_uniform"
	DistInt        = "int"
	DistChoice     = "choice"
)

// DefaultDigits is the number of significant decimal digits a drawn float
// is rounded to when Distribution.Digits is 0.
const DefaultDigits = 6

// Random is random search: Count configurations, each drawing a value of
// every field in Draws from its distribution, seeded by Seed. Every
// configuration runs at every point of the grid (its axes, linked axes and
// the listed axes such as seed), so a sweep with a random section has
// Count × Grid points trials, configuration j's at indexes j·G … j·G+G−1.
//
// The draws are counter-based: the value of field p in configuration j is a
// function of (Seed, j, p) alone (SHA-256 of them, see Uniform),
// so trial i is computed without the trials before it, the same file gives
// the same trials and IDs on every machine, and adding a draw or raising
// Count keeps the values the others had.
//
// Sample, the alternative to Count and Draws, runs a sample of the grid
// instead of all of it: Sample points of the grid (its dimensions but the
// seed axis) drawn without replacement, each run at every seed of
// grid.seed, Sample × |seed| trials. Sample j is point π(j) of the grid in
// its expansion order, π a permutation of the grid's points seeded by Seed
// (see SamplePoint), so that it too is computed on its own.
type Random struct {
	// Seed seeds the draws (any integer).
	Seed int64 `json:"seed"`
	// Count is the number of configurations drawn, ≥ 1.
	Count int `json:"count,omitempty"`
	// Draws are the drawn fields, by JSON path, in the order written.
	Draws Draws `json:"draws,omitempty"`
	// Sample is the number of grid points sampled without replacement (0:
	// the whole grid).
	Sample int `json:"sample,omitempty"`
}

// SamplePoint returns π(j), the grid point of sample j among n points under
// seed: a permutation of {0, …, n−1} (n ≤ 2⁶²), a twelve-round Feistel
// network on the smallest even number of bits that holds n, each round
// keyed by SHA-256 of (seed, round, half), walked until it lands below n.
func SamplePoint(seed int64, j, n int) int {
	if n <= 1 {
		return 0
	}
	half := (bits.Len64(uint64(n-1)) + 1) / 2
	mask := uint64(1)<<half - 1
	x := uint64(j)
	for {
		l, r := x>>half, x&mask
		for round := range 12 {
			l, r = r, l^feistel(seed, round, r)&mask
		}
		x = l<<half | r
		if x < uint64(n) {
			return int(x)
		}
	}
}

// feistel is the round function of SamplePoint.
func feistel(seed int64, round int, v uint64) uint64 {
	var buf [8 + 1 + 8 + 24]byte
	copy(buf[17:], "flatsweep/sample/v1")
	binary.LittleEndian.PutUint64(buf[:8], uint64(seed))
	buf[8] = byte(round)
	binary.LittleEndian.PutUint64(buf[9:17], v)
	sum := sha256.Sum256(buf[:])
	return binary.BigEndian.Uint64(sum[:8])
}

// Draw is one drawn field: its JSON path and its distribution.
type Draw struct {
	// Path is the JSON path of the trial field.
	Path string
	// Distribution is the distribution of its values.
	Distribution
}

// Draws is an ordered list of draws; in JSON an object whose keys are the
// paths, in order: {"lr": {"dist": "log_uniform", "low": 0.001, "high": 1}}.
type Draws []Draw

// MarshalJSON encodes the draws as an object, keys in order.
func (d Draws) MarshalJSON() ([]byte, error) {
	out := []byte{'{'}
	for i, x := range d {
		js, err := json.Marshal(x.Distribution)
		if err != nil {
			return nil, fmt.Errorf("draw %s: %w", x.Path, err)
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendQuote(out, x.Path)
		out = append(out, ':')
		out = append(out, js...)
	}
	return append(out, '}'), nil
}

// UnmarshalJSON decodes an object of draws strictly, keeping the order of
// its keys. A key given twice is an error.
func (d *Draws) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*d = nil
		return nil
	}
	var out Draws
	err := orderedObject(b, func(key string, raw json.RawMessage) error {
		if slices.ContainsFunc(out, func(x Draw) bool { return x.Path == key }) {
			return fmt.Errorf("draw %q given twice", key)
		}
		var dist Distribution
		if err := decodeStrict(raw, &dist); err != nil {
			return fmt.Errorf("draw %q: %w", key, err)
		}
		out = append(out, Draw{Path: key, Distribution: dist})
		return nil
	})
	if err != nil {
		return err
	}
	*d = out
	return nil
}

// Distribution is the distribution of a drawn field. With u uniform on
// [0, 1) (53 bits from SHA-256, see Uniform):
//
//	uniform:      x = low + (high − low)·u, a float field;
//	log_uniform:  x = exp(ln low + (ln high − ln low)·u), low > 0, a float
//	              field: ln x is uniform on [ln low, ln high];
//	int:          an integer uniform on {low, …, high}, both included, an
//	              integer field; with log, round(y) for y log-uniform on
//	              [low − ½, high + ½], low ≥ 1, so that P(k) ∝
//	              ln((k + ½)/(k − ½));
//	choice:       one of Values, each with probability 1/len(Values), any
//	              field.
//
// Floats are then rounded to Digits significant decimal digits (default 6)
// and clamped to [low, high], so a drawn value reads well in a table. Every
// step is plain float64 arithmetic (exp and log included, see portableExp),
// so a draw is the same on every machine.
type Distribution struct {
	// Dist is the kind: "uniform", "log_uniform", "int" or "choice".
	Dist string `json:"dist"`
	// Low and High bound the values (uniform, log_uniform, int), low < high.
	Low  float64 `json:"low,omitempty"`
	High float64 `json:"high,omitempty"`
	// Log makes an int distribution log-uniform.
	Log bool `json:"log,omitempty"`
	// Digits is the number of significant digits of a drawn float, 1…17
	// (0: DefaultDigits).
	Digits int `json:"digits,omitempty"`
	// Values are the choices (choice), each the JSON of a value of the
	// field's type, distinct.
	Values []json.RawMessage `json:"values,omitempty"`
}

// Uniform returns the uniform number on [0, 1) of configuration j of the
// draw of the field at path under seed: the first 53 bits of
//
//	SHA-256("flatsweep/random/v1" ‖ 0 ‖ path ‖ 0 ‖ seed ‖ j)
//
// (seed and j as 8-byte little-endian integers) divided by 2⁵³, and the
// whole first 64 bits for integer draws.
func Uniform(seed int64, j int, path string) (u float64, word uint64) {
	h := sha256.New()
	h.Write([]byte("flatsweep/random/v1\x00"))
	h.Write([]byte(path))
	var buf [17]byte
	binary.LittleEndian.PutUint64(buf[1:], uint64(seed))
	binary.LittleEndian.PutUint64(buf[9:], uint64(j))
	h.Write(buf[:])
	var sum [32]byte
	word = binary.BigEndian.Uint64(h.Sum(sum[:0]))
	return float64(word>>11) / (1 << 53), word
}

// draw returns the value of configuration j for the field at path (of Go
// type kind: int, int64, float64, or a choice's decoded values) and, for a
// choice, the index of the value chosen (j otherwise). choices are the
// decoded Values of a choice distribution.
func (d Distribution) draw(seed int64, j int, path string, typ fieldKind, choices []any) (any, int) {
	u, w := Uniform(seed, j, path)
	switch d.Dist {
	case DistChoice:
		k, _ := bits.Mul64(w, uint64(len(choices)))
		return choices[k], int(k)
	case DistInt:
		lo, hi := int64(d.Low), int64(d.High)
		var k int64
		if d.Log {
			a, b := portableLog(float64(lo)-0.5), portableLog(float64(hi)+0.5)
			k = int64(math.Floor(portableExp(a+float64((b-a)*u)) + 0.5))
			k = min(max(k, lo), hi)
		} else {
			off, _ := bits.Mul64(w, uint64(hi-lo)+1)
			k = lo + int64(off)
		}
		if typ == kindInt64 {
			return k, j
		}
		return int(k), j
	}
	var x float64
	if d.Dist == DistLogUniform {
		a, b := portableLog(d.Low), portableLog(d.High)
		x = portableExp(a + float64((b-a)*u))
	} else {
		x = d.Low + float64((d.High-d.Low)*u)
	}
	x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'g', or(d.Digits, DefaultDigits), 64), 64)
	return min(max(x, d.Low), d.High), j
}

// fieldKind is the kind of a drawn field that its distribution depends on.
type fieldKind int

const (
	kindOther fieldKind = iota
	kindInt
	kindInt64
	kindFloat
)
