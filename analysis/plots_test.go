package analysis

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// checkFiles asserts that f was saved as a decodable PNG and a well-formed SVG.
func checkFiles(t *testing.T, f *Figure) {
	t.Helper()
	if len(f.Files) != 2 {
		t.Fatalf("%q: files %v", f.Title, f.Files)
	}
	for _, path := range f.Files {
		b, err := os.ReadFile(path)
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %d bytes, %v", path, len(b), err)
		}
		switch filepath.Ext(path) {
		case ".png":
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if r := img.Bounds(); r.Dx() < 100 || r.Dy() < 100 {
				t.Errorf("%s: %v", path, r)
			}
		case ".svg":
			d := xml.NewDecoder(bytes.NewReader(b))
			root := ""
			for {
				tok, err := d.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if se, ok := tok.(xml.StartElement); ok && root == "" {
					root = se.Name.Local
				}
			}
			if root != "svg" {
				t.Errorf("%s: root element %q", path, root)
			}
		default:
			t.Errorf("unexpected file %s", path)
		}
	}
}

// plotSweep is a small sweep over B × ε with λ₁, a diverged trial, a failed
// one and training curves.
func plotSweep() []Point {
	const n = 4096.0
	acc := func(b, lr, n float64) float64 {
		d := math.Log(NoiseScaleMomentum(lr, n, b, 0)) - math.Log(10)
		return 0.9 - 0.02*d*d
	}
	pts := sweepPoints(rand.New(rand.NewPCG(11, 12)), pow2s(16, 512), []float64{0.01, 0.05, 0.2}, []float64{n}, 2, 0.003, acc)
	for i := range pts {
		p := &pts[i]
		b, seed := p.Axes[AxisB], p.Axes[AxisSeed]
		p.Metrics[MetricLambdaMax] = b * b / 10 * (1 + 0.1*seed) // spans > 2 decades: log colour and axis
		p.Metrics[MetricGap] = 0.01 * math.Log(b)
		for e := 1; e <= 5; e++ {
			p.Curve = append(p.Curve, spec.EpochMetrics{Epoch: e, TestAcc: p.Metrics[MetricTestAcc] * (1 - math.Exp(-float64(e)))})
		}
	}
	pts = append(pts,
		Point{ID: "div", Status: StatusDiverged, Axes: map[string]float64{AxisB: 16, AxisLR: 0.2, AxisN: n, AxisSeed: 9},
			Metrics: map[string]float64{MetricTestAcc: 0.1}, Curve: []spec.EpochMetrics{{Epoch: 1, TestAcc: 0.3}, {Epoch: 2, TestAcc: math.NaN()}}},
		Point{ID: "fail", Status: StatusFailed, Axes: map[string]float64{AxisB: 32, AxisLR: 0.2, AxisN: n, AxisSeed: 9}})
	return pts
}

func TestPlots(t *testing.T) {
	dir := t.TempDir()
	pts := plotSweep()
	curves := CurvesFromPoints(pts, MetricTestAcc)
	// One curve per grid point, the mean of its 2 seeds with a band, and the
	// diverged trial (alone in its grid point) dashed.
	div := slices.IndexFunc(curves, func(c Curve) bool { return c.Diverged })
	if len(curves) != 3*6+1 || div < 0 || curves[div].Seeds != 1 || !strings.Contains(curves[0].Label, "B=16") ||
		curves[0].Seeds != 2 || len(curves[0].Lo) != 5 || !(curves[0].Lo[4] < curves[0].Values[4] && curves[0].Values[4] < curves[0].Hi[4]) {
		t.Fatalf("curves: %d, diverged at %d, first %+v", len(curves), div, curves[0])
	}
	// A few curves, as a report would choose, including the diverged one.
	few := []Curve{curves[0], curves[13], curves[div]}
	x := make([]float64, 200)
	dens := make([]float64, 200)
	for i := range x {
		x[i] = -1 + 21*float64(i)/199
		dens[i] = math.Exp(-x[i]*x[i]) + 0.01*math.Exp(-(x[i]-18)*(x[i]-18))
	}
	for _, c := range []struct {
		name string
		plot func(stem string) (*Figure, error)
	}{
		{"acc_vs_g", func(s string) (*Figure, error) { return PlotAccVsG(pts, s) }},
		{"heat_acc", func(s string) (*Figure, error) { return PlotHeatMap(pts, MetricTestAcc, s) }},
		{"heat_lambda", func(s string) (*Figure, error) { return PlotHeatMap(pts, MetricLambdaMax, s) }},
		{"lambda_vs_gap", func(s string) (*Figure, error) { return PlotMeasureVsGap(pts, MetricLambdaMax, s) }},
		{"lambda_vs_b", func(s string) (*Figure, error) { return saved(LambdaVsB(pts), s) }},
		{"density", func(s string) (*Figure, error) { return PlotSpectralDensity(x, dens, s) }},
		{"curves", func(s string) (*Figure, error) { return PlotTrainingCurves(few, MetricTestAcc, s) }},
	} {
		f, err := c.plot(filepath.Join(dir, c.name+".png")) // the extension is replaced
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if f.Empty {
			t.Errorf("%s: empty figure: %s", c.name, f.Note)
		}
		checkFiles(t, f)
		if f.Files[0] != filepath.Join(dir, c.name+".png") || f.Files[1] != filepath.Join(dir, c.name+".svg") {
			t.Errorf("%s: files %v", c.name, f.Files)
		}
		t.Logf("%s: note %q", c.name, f.Note)
	}
	// The non-succeeded trials are reported, not silently dropped.
	f := AccVsG(pts)
	if !strings.Contains(f.Note, "1 diverged") || !strings.Contains(f.Note, "1 failed") {
		t.Errorf("acc vs g note %q", f.Note)
	}
	if os.Getenv("FLATSWEEP_KEEP_PLOTS") != "" { // for eyeballing: go test -run TestPlots with the variable set
		for _, name := range []string{"acc_vs_g", "heat_acc", "heat_lambda", "lambda_vs_gap", "density", "curves"} {
			b, _ := os.ReadFile(filepath.Join(dir, name+".png"))
			_ = os.WriteFile(filepath.Join(os.Getenv("FLATSWEEP_KEEP_PLOTS"), name+".png"), b, 0o644)
		}
	}
}

func TestPlotsDegenerate(t *testing.T) {
	dir := t.TempDir()
	one := []Point{{Status: StatusOK, Axes: map[string]float64{AxisB: 32, AxisLR: 0.1, AxisN: 1000, AxisSeed: 1},
		Metrics: map[string]float64{MetricTestAcc: 0.8, MetricGap: 0.1, MetricLambdaMax: 3},
		Curve:   []spec.EpochMetrics{{Epoch: 1, TestAcc: 0.8}}}}
	diverged := []Point{
		{Status: StatusDiverged, Axes: one[0].Axes, Metrics: map[string]float64{MetricTestAcc: 0.1}},
		{Status: StatusDiverged, Axes: one[0].Axes, Metrics: map[string]float64{MetricTestAcc: 0.1}},
	}
	fullBatch := []Point{{Status: StatusOK, Axes: map[string]float64{AxisB: 1000, AxisLR: 0.1, AxisN: 1000},
		Metrics: map[string]float64{MetricTestAcc: 0.8}}}
	for _, c := range []struct {
		name  string
		fig   func() (*Figure, error)
		empty bool
		note  string // a substring of the note
	}{
		{"single acc_vs_g", func() (*Figure, error) { return AccVsG(one), nil }, false, ""},
		{"single heat", func() (*Figure, error) { return HeatMap(one, MetricTestAcc), nil }, false, ""},
		{"single scatter", func() (*Figure, error) { return MeasureVsGap(one, MetricLambdaMax), nil }, false, ""},
		{"single curve", func() (*Figure, error) { return TrainingCurves(CurvesFromPoints(one, MetricTestAcc), ""), nil }, false, ""},
		{"single density", func() (*Figure, error) { return SpectralDensity([]float64{1}, []float64{2}) }, false, ""},
		{"diverged acc_vs_g", func() (*Figure, error) { return AccVsG(diverged), nil }, true, "2 diverged"},
		{"diverged heat", func() (*Figure, error) { return HeatMap(diverged, MetricLambdaMax), nil }, true, "no successful trials"},
		{"diverged scatter", func() (*Figure, error) { return MeasureVsGap(diverged, MetricLambdaMax), nil }, true, "2 diverged"},
		{"missing metric heat", func() (*Figure, error) { return HeatMap(one, "adaptive_sharpness"), nil }, true, "no trial with finite adaptive_sharpness"},
		{"missing metric scatter", func() (*Figure, error) { return MeasureVsGap(one, "fisher_rao"), nil }, true, "no trial with"},
		{"full batch acc_vs_g", func() (*Figure, error) { return AccVsG(fullBatch), nil }, true, "g ≤ 0"},
		{"single lambda_vs_b", func() (*Figure, error) { return LambdaVsB(one), nil }, false, ""},
		{"diverged lambda_vs_b", func() (*Figure, error) { return LambdaVsB(diverged), nil }, true, "2 diverged"},
		{"no lambda lambda_vs_b", func() (*Figure, error) { return LambdaVsB(fullBatch), nil }, true, "no trial with"},
		{"no trials", func() (*Figure, error) { return AccVsG(nil), nil }, true, "no trials"},
		{"no curves", func() (*Figure, error) { return TrainingCurves(nil, MetricTestLoss), nil }, true, "no training curves"},
		{"nan curve", func() (*Figure, error) {
			return TrainingCurves([]Curve{{Label: "x", Epochs: []float64{1}, Values: []float64{math.NaN()}}}, ""), nil
		}, true, "1 curves without finite values"},
		{"empty density", func() (*Figure, error) { return SpectralDensity(nil, nil) }, true, "no spectral density"},
		{"zero density", func() (*Figure, error) { return SpectralDensity([]float64{0, 1}, []float64{0, 0}) }, false, ""},
	} {
		f, err := c.fig()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if f.Empty != c.empty || !strings.Contains(f.Note, c.note) {
			t.Errorf("%s: empty %v note %q, want empty %v note containing %q", c.name, f.Empty, f.Note, c.empty, c.note)
		}
		if err := f.Save(filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkFiles(t, f)
	}
	if _, err := PlotSpectralDensity([]float64{1, 2}, []float64{1}, filepath.Join(dir, "x")); !errors.Is(err, ErrLengthMismatch) {
		t.Errorf("mismatched density: %v", err)
	}
	if _, err := PlotAccVsG(one, filepath.Join(dir, "no-such-dir", "x")); err == nil {
		t.Error("saving into a missing directory succeeded")
	}
}
