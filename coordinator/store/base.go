package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// Base is what the trials of one sweep submission share: a trial spec and
// the paths of the fields its grid varies. A stored trial names its base and
// carries the canonical JSON of its value on each axis (exact, whatever the
// type and size of the value), so it does not repeat its spec.
type Base struct {
	// Axes are the JSON paths of the varied fields ("batch_size",
	// "dataset.n", …), in the order of a trial's axis values.
	Axes []string `json:"axes"`
	// Spec is the shared spec; its fields at Axes hold one trial's values.
	Spec spec.Trial `json:"spec"`
}

// Encode returns the base's stored form (JSON) and its ID, "b-" and 128 bits
// of the SHA-256 of that form.
func (b Base) Encode() (id string, js []byte, err error) {
	js, err = json.Marshal(b)
	if err != nil {
		return "", nil, fmt.Errorf("encode base: %w", err)
	}
	sum := sha256.Sum256(js)
	return "b-" + hex.EncodeToString(sum[:16]), js, nil
}

// DecodeBase decodes a stored base strictly.
func DecodeBase(js []byte) (Base, error) {
	var b struct {
		Axes []string        `json:"axes"`
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(js, &b); err != nil {
		return Base{}, fmt.Errorf("decode base: %w", err)
	}
	t, err := spec.DecodeTrial(b.Spec)
	if err != nil {
		return Base{}, fmt.Errorf("decode base: %w", err)
	}
	return Base{Axes: b.Axes, Spec: t}, nil
}

// Trial returns the spec of the trial with the given axis values.
func (b Base) Trial(values []string) (spec.Trial, error) {
	if len(values) != len(b.Axes) {
		return spec.Trial{}, fmt.Errorf("%d axis values for a base of %d axes", len(values), len(b.Axes))
	}
	t := b.Spec
	for i, path := range b.Axes {
		if err := spec.SetJSON(&t, path, values[i]); err != nil {
			return spec.Trial{}, err
		}
	}
	return t, nil
}

// Values returns the canonical JSON of t's value on each of the base's axes.
func (b Base) Values(t spec.Trial) ([]string, error) {
	out := make([]string, len(b.Axes))
	for i, path := range b.Axes {
		v, err := spec.GetJSON(t, path)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// trialSpec returns a stored trial's spec: from spec_json, or from its base
// and axis values.
func (s *Store) trialSpec(get func(string) (Base, error), t *pb.Trial) (spec.Trial, error) {
	if t.BaseId == "" {
		return spec.DecodeTrial([]byte(t.SpecJson))
	}
	b, err := get(t.BaseId)
	if err != nil {
		return spec.Trial{}, err
	}
	st, err := b.Trial(t.AxisValues)
	if err != nil {
		return spec.Trial{}, fmt.Errorf("trial %s/%s: %w", t.SweepId, t.Id, err)
	}
	return st, nil
}
