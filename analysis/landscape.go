package analysis

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/flatsweep/flatsweep/spec"
)

// landscapeAxis names the coordinate of a landscape's first axis.
func landscapeAxis(l spec.Landscape) string {
	if l.Kind == spec.LandscapeLine {
		return "α: (1 − α)·θ_A + α·θ_B"
	}
	return "a: θ + a·d₁ (filter-normalized)"
}

// landscapeRow returns the values of a landscape along its first axis: the
// whole of a line or 1-D slice, the row of a 2-D slice whose b is nearest
// to 0 (with that b).
func landscapeRow(l spec.Landscape, vals []float64) ([]float64, float64) {
	off, b := l.ZeroRow()
	return vals[off : off+len(l.A)], b
}

// LandscapeCurves draws the loss (metric "loss") or the accuracy (metric
// "acc") of a landscape along its first axis, on the training and the test
// subsets: the whole line or 1-D slice, or for a 2-D slice the row at the b
// nearest to 0. Non-finite values are left out.
func LandscapeCurves(l spec.Landscape, metric string) *Figure {
	train, test, label := l.TrainLoss, l.TestLoss, "mean loss"
	if metric == "acc" {
		train, test, label = l.TrainAcc, l.TestAcc, "accuracy"
	}
	title := fmt.Sprintf("%s along the %s", label, map[bool]string{true: "line between two models", false: "filter-normalized direction"}[l.Kind == spec.LandscapeLine])
	if len(l.A) == 0 || len(train) < len(l.A) {
		return emptyFigure(title, "no landscape values")
	}
	note := fmt.Sprintf("%d training and %d test examples", l.Examples, l.TestExamples)
	if len(l.B) > 0 {
		_, b := landscapeRow(l, train)
		note = fmt.Sprintf("row b = %.3g of the 2-D slice; %s", b, note)
	}
	p := plot.New()
	p.Title.Text = titled(title, note)
	p.X.Label.Text = landscapeAxis(l)
	p.Y.Label.Text = label
	leg := plot.NewLegend()
	for i, s := range []struct {
		name string
		vals []float64
	}{{"train", train}, {"test", test}} {
		row, _ := landscapeRow(l, s.vals)
		var xys plotter.XYs
		for k, v := range row {
			if finite(v) {
				xys = append(xys, plotter.XY{X: l.A[k], Y: v})
			}
		}
		if len(xys) == 0 {
			continue
		}
		if th := addSeries(p, i, xys, nil, i == 1); th != nil {
			leg.Add(s.name, th...)
		}
	}
	return legendFigure(p, &leg, title)
}

// landscapeGrid is a GridXYZ over a 2-D landscape: column i at A[i], row j
// at B[j].
type landscapeGrid struct {
	a, b, z []float64
}

func (g landscapeGrid) Dims() (c, r int)   { return len(g.a), len(g.b) }
func (g landscapeGrid) Z(c, r int) float64 { return g.z[r*len(g.a)+c] }
func (g landscapeGrid) X(c int) float64    { return g.a[c] }
func (g landscapeGrid) Y(r int) float64    { return g.b[r] }

// LandscapeContour draws a 2-D landscape's loss on the training (set
// "train") or test (set "test") subset over the (a, b) plane: a colour map
// with contour lines at 12 equally spaced levels, of log₁₀ of the loss when
// the loss spans two decades or more (the colour bar says so). The minimum
// θ is at (0, 0). The colour map is viridis (sequential: a loss has no
// midpoint). A landscape that is not 2-D gives an empty figure.
func LandscapeContour(l spec.Landscape, set string) *Figure {
	vals := l.TrainLoss
	if set == "test" {
		vals = l.TestLoss
	}
	title := set + " loss over the plane θ + a·d₁ + b·d₂"
	if len(l.B) < 2 || len(l.A) < 2 || len(vals) != len(l.A)*len(l.B) {
		return emptyFigure(title, "not a 2-D landscape")
	}
	z := make([]float64, len(vals))
	copy(z, vals)
	lo, hi := minMax(z)
	barLabel := set + " loss"
	if useLog(lo, hi) {
		for i, v := range z {
			z[i] = math.Log10(v)
		}
		lo, hi = math.Log10(lo), math.Log10(hi)
		barLabel = "log10 of " + barLabel
	}
	lo, hi = widened(lo, hi)
	g := landscapeGrid{a: l.A, b: l.B, z: z}
	cmap := newViridis(lo, hi)
	h := plotter.NewHeatMap(g, cmap.Palette(255))
	h.Min, h.Max = lo, hi
	h.NaN = color.Gray{Y: 200}
	levels := make([]float64, 12)
	for i := range levels {
		levels[i] = lo + (hi-lo)*(float64(i)+0.5)/float64(len(levels))
	}
	c := plotter.NewContour(g, levels, nil)
	c.Min, c.Max = lo, hi
	for i := range c.LineStyles {
		c.LineStyles[i].Color = color.Black
		if bg, err := cmap.At(levels[i]); err == nil {
			c.LineStyles[i].Color = labelColor(bg) // readable on the colour under it
		}
		c.LineStyles[i].Width = vg.Points(0.6)
	}
	note := fmt.Sprintf("%d × %d grid; %d training and %d test examples", len(l.A), len(l.B), l.Examples, l.TestExamples)
	p := plot.New()
	p.Title.Text = titled(title, note)
	p.Add(h, c)
	if centre, err := plotter.NewScatter(plotter.XYs{{X: 0, Y: 0}}); err == nil {
		centre.Color = color.Black
		p.Add(centre)
	}
	p.X.Label.Text = "a (direction d₁)"
	p.Y.Label.Text = "b (direction d₂)"

	f := &Figure{Title: title, Width: figHeight + barWidth + 2*vg.Centimeter, Height: figHeight}
	f.draw = withColourBar(p, colourBar(cmap, barLabel), vg.Centimeter)
	return f
}

// PlotLandscape saves the figures of a landscape under the path prefix
// stem: stem-loss and stem-accuracy (LandscapeCurves) and, for a 2-D
// landscape, stem-train-contour and stem-test-contour (LandscapeContour),
// each as PNG and SVG. It returns the figures written.
func PlotLandscape(l spec.Landscape, stem string) ([]*Figure, error) {
	type item struct {
		f    *Figure
		name string
	}
	items := []item{{LandscapeCurves(l, "loss"), "loss"}, {LandscapeCurves(l, "acc"), "accuracy"}}
	if len(l.B) > 0 {
		items = append(items, item{LandscapeContour(l, "train"), "train-contour"}, item{LandscapeContour(l, "test"), "test-contour"})
	}
	var out []*Figure
	for _, it := range items {
		if err := it.f.Save(stem + "-" + it.name); err != nil {
			return out, err
		}
		out = append(out, it.f)
	}
	return out, nil
}
