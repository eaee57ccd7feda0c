package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Canonical returns the trial's JSON encoding as a worker receives it
// (fields in declaration order, zero values omitted, floats in shortest
// round-trip form). It fails only for a NaN or infinite float, which
// validation rejects.
func Canonical(t Trial) ([]byte, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("canonical trial spec: %w", err)
	}
	return b, nil
}

// Identity returns the form of the trial that its ID hashes: its canonical
// JSON with the paths of the files it reads left out wherever their content
// digest stands for them (a dataset with SHA256, a warm start with SHA256).
// Where a file has no digest, as in trials stored by versions of flatsweep
// before content identity, its path stays in (see LegacyIdentity).
func Identity(t Trial) ([]byte, error) {
	if t.Dataset.SHA256 != "" {
		d := &t.Dataset
		d.Dir, d.TrainImages, d.TrainLabels, d.TestImages, d.TestLabels = "", "", "", "", ""
		d.TrainBatches, d.TestBatches = nil, nil
	}
	if t.WarmStart.SHA256 != "" {
		t.WarmStart.Path = ""
	}
	return Canonical(t)
}

// LegacyIdentity returns the identity that flatsweep gave the trial before
// files were identified by their content: the canonical JSON with the paths
// and without the dataset digest. It is what a database written by those
// versions keyed the trial by.
func LegacyIdentity(t Trial) ([]byte, error) {
	t.Dataset.SHA256 = ""
	return Canonical(t)
}

// IDPrefix starts every trial ID.
const IDPrefix = "t-"

// ID returns the stable identity of a trial:
//
//	"t-" + hex(SHA-256(Identity(t)))[:32]
//
// that is, 128 bits of the SHA-256 digest of its identity form, as 32
// lowercase hex digits. The same spec always has the same ID, whichever
// sweep declares it; changing any value that changes the outcome changes
// it. A spec that has no JSON form (a NaN or infinite float, which
// validation rejects) gets an ID with the prefix "x-" hashed from its Go
// syntax representation instead, so it can never collide with the ID of a
// valid spec.
func ID(t Trial) string {
	b, err := Identity(t)
	if err != nil {
		sum := sha256.Sum256(fmt.Appendf(nil, "%#v", t))
		return "x-" + hex.EncodeToString(sum[:16])
	}
	return IDOf(b)
}

// LegacyID returns the ID of LegacyIdentity(t) (see ID).
func LegacyID(t Trial) string {
	b, err := LegacyIdentity(t)
	if err != nil {
		return ID(t)
	}
	return IDOf(b)
}

// IDOf returns the trial ID of a spec given as its identity form: IDPrefix
// and the first 128 bits of its SHA-256, in hex.
func IDOf(identity []byte) string {
	sum := sha256.Sum256(identity)
	return IDPrefix + hex.EncodeToString(sum[:16])
}

// DecodeTrial decodes a trial spec's JSON strictly: a field this binary does
// not know is an error, so an old worker never silently runs a different
// trial than the one submitted.
func DecodeTrial(b []byte) (Trial, error) {
	var t Trial
	if err := decodeStrict(b, &t); err != nil {
		return Trial{}, fmt.Errorf("decode trial spec: %w", err)
	}
	return t, nil
}

// DecodeSweep decodes a sweep's JSON strictly (see DecodeTrial). It does not
// validate it.
func DecodeSweep(b []byte) (Sweep, error) {
	var s Sweep
	if err := decodeStrict(b, &s); err != nil {
		return Sweep{}, fmt.Errorf("decode sweep spec: %w", err)
	}
	return s, nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}
