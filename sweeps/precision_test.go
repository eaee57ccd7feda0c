package sweeps

import (
	"strings"
	"testing"
)

// TestPrecisionSetting: train.precision reaches every trial of a sweep,
// float64 written out expands to the trials (and IDs) of the default, and
// an invalid value is an error naming the field.
func TestPrecisionSetting(t *testing.T) {
	yaml := func(train string) string {
		return `name: p
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [8]}
train: {epochs: 1` + train + `}
grid: {batch_size: [8, 16], lr: [0.1], seed: [1]}
`
	}
	ids := func(train string) []string {
		t.Helper()
		s, err := Parse([]byte(yaml(train)), "p.yaml")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tr := range Expand(s) {
			out = append(out, tr.ID+"/"+tr.Spec.Precision)
		}
		return out
	}
	def, f64, f32 := ids(""), ids(", precision: float64"), ids(", precision: float32")
	if strings.Join(def, " ") != strings.Join(f64, " ") {
		t.Errorf("float64 written out: %v, default %v", f64, def)
	}
	for i := range f32 {
		if !strings.HasSuffix(f32[i], "/float32") || f32[i] == def[i] {
			t.Errorf("float32 trial %d: %s (default %s)", i, f32[i], def[i])
		}
	}
	if _, err := Parse([]byte(yaml(", precision: half")), "p.yaml"); err == nil || !strings.Contains(err.Error(), "precision") {
		t.Errorf("precision half: err = %v", err)
	}
	bad := strings.Replace(yaml(", precision: float32"), "hidden: [8]}", "hidden: [8], dropout: 0.1}", 1)
	if _, err := Parse([]byte(bad), "p.yaml"); err == nil || !strings.Contains(err.Error(), "model.dropout") {
		t.Errorf("float32 with dropout: err = %v", err)
	}
}
