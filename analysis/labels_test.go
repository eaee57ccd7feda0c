package analysis

import (
	"bytes"
	"strings"
	"testing"
)

// TestFieldAxisLabels: an axis over non-numeric values (here model.arch and
// model.hidden) is shown by its values as written, not by the codes that
// group the points, in the grid table, the paired comparisons, the
// environments, the curve labels and the JSON's axis_values.
func TestFieldAxisLabels(t *testing.T) {
	const n = 16
	var ps []Point
	for i, arch := range []string{`"mlp"`, `"resmlp"`} {
		for s := 1; s <= 2; s++ {
			p := pairedPoint(32, s, n, func(j int) bool { return (j+s+i)%3 != 0 })
			p.Axes["model.arch"], p.Values = float64(i), map[string]string{"model.arch": arch, "model.hidden": "[64,64]"}
			p.Axes["model.hidden"] = 0
			p.Metrics["lambda_max"] = float64(1 + i + s)
			ps = append(ps, p)
		}
	}
	a := Analyze("s", ps)
	if got := a.AxisValues["model.arch"]; len(got) != 2 || got[0] != "mlp" || got[1] != "resmlp" {
		t.Errorf("axis_values of model.arch: %v", got)
	}
	var buf bytes.Buffer
	if err := WriteAnalysisTable(&buf, a); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{"mlp → resmlp", "resmlp"} {
		if !strings.Contains(text, want) {
			t.Errorf("analysis does not show %q:\n%s", want, text)
		}
	}
	if got := curveLabels(ps[:3]); !strings.Contains(got[2], "model.arch=resmlp") {
		t.Errorf("curve labels %q", got)
	}
}
