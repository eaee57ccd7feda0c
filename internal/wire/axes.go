package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/flatsweep/flatsweep/compute"
)

// Axes names the trial-spec values a sweep's grid can vary, in the order of
// an axes vector: batch size B, learning rate ε, seed, training-set size N,
// momentum m and weight decay λ.
var Axes = [NumAxes]string{"batch_size", "lr", "seed", "n", "momentum", "weight_decay"}

// NumAxes is the length of an axes vector.
const NumAxes = 6

// SpecAxes returns the axis values of a trial spec, in the order of Axes.
func SpecAxes(s compute.TrialSpec) [NumAxes]float64 {
	return [NumAxes]float64{float64(s.BatchSize), s.LR, float64(s.Seed), float64(s.Dataset.N), s.Optimizer.Momentum, s.WeightDecay}
}

// WithAxes returns s with its axis values set from a (the inverse of SpecAxes).
func WithAxes(s compute.TrialSpec, a [NumAxes]float64) compute.TrialSpec {
	s.BatchSize = int(a[0])
	s.LR = a[1]
	s.Seed = int64(a[2])
	s.Dataset.N = int(a[3])
	s.Optimizer.Momentum = a[4]
	s.WeightDecay = a[5]
	return s
}

// Base returns a spec with its axis values zeroed: what the trials of one
// sweep submission share.
func Base(s compute.TrialSpec) compute.TrialSpec { return WithAxes(s, [NumAxes]float64{}) }

// BaseID returns the identity of a base spec's canonical JSON.
func BaseID(baseJSON []byte) string {
	sum := sha256.Sum256(baseJSON)
	return "b-" + hex.EncodeToString(sum[:16])
}

// Canonical returns the canonical JSON of a trial spec (its encoding/json
// encoding, the form trial IDs hash).
func Canonical(s compute.TrialSpec) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("canonical trial spec: %w", err)
	}
	return b, nil
}

// SplitSpec splits a trial spec's JSON into its base's canonical JSON and
// its axes.
func SplitSpec(specJSON string) (baseJSON []byte, axes [NumAxes]float64, err error) {
	s, err := DecodeSpec(specJSON)
	if err != nil {
		return nil, axes, err
	}
	baseJSON, err = Canonical(Base(s))
	return baseJSON, SpecAxes(s), err
}

// JoinSpec rebuilds a trial spec's canonical JSON from its base's decoded
// spec and its axes.
func JoinSpec(base compute.TrialSpec, axes []float64) (string, error) {
	if len(axes) != NumAxes {
		return "", fmt.Errorf("trial has %d axis values, want %d", len(axes), NumAxes)
	}
	b, err := Canonical(WithAxes(base, [NumAxes]float64(axes)))
	return string(b), err
}
