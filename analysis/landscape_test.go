package analysis

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// bowl returns a 2-D landscape of the quadratic bowl 1 + a² + 4b² (n × n
// values in [−1, 1]²).
func bowl(n int) spec.Landscape {
	l := spec.Landscape{Kind: "2d", Examples: 10, TestExamples: 5, Evaluations: n * n}
	for i := range n {
		l.A = append(l.A, -1+2*float64(i)/float64(n-1))
	}
	l.B = l.A
	for _, b := range l.B {
		for _, a := range l.A {
			v := 1 + a*a + 4*b*b
			l.TrainLoss = append(l.TrainLoss, v)
			l.TestLoss = append(l.TestLoss, 1.1*v)
			l.TrainAcc = append(l.TrainAcc, math.Exp(-v))
			l.TestAcc = append(l.TestAcc, math.Exp(-1.1*v))
		}
	}
	return l
}

// TestPlotLandscape: the figures of a 2-D landscape (curves along the b = 0
// row and two contour maps) and of a line are written as non-empty PNG and
// SVG files; a line has no contour figure.
func TestPlotLandscape(t *testing.T) {
	dir := t.TempDir()
	l := bowl(9)
	figs, err := PlotLandscape(l, filepath.Join(dir, "plane"))
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) != 4 {
		t.Fatalf("%d figures", len(figs))
	}
	for _, f := range figs {
		if f.Empty || len(f.Files) != 2 {
			t.Errorf("%q: empty %v, files %v", f.Title, f.Empty, f.Files)
		}
		for _, p := range f.Files {
			if st, err := os.Stat(p); err != nil || st.Size() < 1000 {
				t.Errorf("%s: %v", p, err)
			}
		}
	}
	row, b := landscapeRow(l, l.TrainLoss)
	if b != 0 || row[4] != 1 || row[0] != 2 {
		t.Errorf("row b = %v: %v", b, row)
	}
	line := spec.Landscape{Kind: "line", A: []float64{-1, 0, 1, 2}, TrainLoss: []float64{3, 1, 1.5, 4},
		TestLoss: []float64{3, 1.2, 1.6, 4}, TrainAcc: []float64{0.1, 0.9, 0.8, 0.1}, TestAcc: []float64{0.1, 0.8, 0.8, 0.1}}
	figs, err = PlotLandscape(line, filepath.Join(dir, "line"))
	if err != nil || len(figs) != 2 {
		t.Fatalf("line: %d figures, %v", len(figs), err)
	}
	if f := LandscapeContour(line, "train"); !f.Empty {
		t.Error("a contour of a line")
	}
}
