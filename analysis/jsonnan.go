package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
)

// marshalFinite encodes the struct v like encoding/json, field by field in
// declaration order with their json tags, except that a NaN or ±Inf float64
// (alone or as a map[string]float64 value) is written as null instead of
// failing: results such as an undefined τ or a standard error without degrees
// of freedom stay encodable.
func marshalFinite(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for i := range rt.NumField() {
		f := rt.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		val := rv.Field(i).Interface()
		switch x := val.(type) {
		case float64:
			val = jsonFloat(x)
		case map[string]float64:
			m := make(map[string]jsonFloat, len(x))
			for k, y := range x {
				m[k] = jsonFloat(y)
			}
			val = m
		}
		enc, err := json.Marshal(val)
		if err != nil {
			return nil, fmt.Errorf("marshal %s.%s: %w", rt.Name(), f.Name, err)
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		key, _ := json.Marshal(name)
		b.Write(key)
		b.WriteByte(':')
		b.Write(enc)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// MarshalJSON encodes o with null for a NaN or infinite value.
func (o BatchOptimum) MarshalJSON() ([]byte, error) { return marshalFinite(o) }

// MarshalJSON encodes f with null for a NaN or infinite value (an undefined
// standard error, intercept or R²).
func (f PowerLawFit) MarshalJSON() ([]byte, error) { return marshalFinite(f) }

// MarshalJSON encodes r with null for a NaN or infinite value.
func (r CollapseResult) MarshalJSON() ([]byte, error) { return marshalFinite(r) }

// MarshalJSON encodes a with null for an undefined ψ.
func (a AxisTau) MarshalJSON() ([]byte, error) { return marshalFinite(a) }

// MarshalJSON encodes g with null for an undefined Ψ.
func (g Granulated) MarshalJSON() ([]byte, error) { return marshalFinite(g) }

// MarshalJSON encodes s with null for an undefined τ.
func (s MeasureScore) MarshalJSON() ([]byte, error) { return marshalFinite(s) }

// MarshalJSON encodes r with null for an undefined τ or an infinite change.
func (r DinhResult) MarshalJSON() ([]byte, error) { return marshalFinite(r) }

// jsonFloat encodes a float, writing NaN and ±Inf as null and reading null as
// NaN.
type jsonFloat float64

// MarshalJSON implements json.Marshaler.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(x)
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	var x float64
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*f = jsonFloat(x)
	return nil
}
