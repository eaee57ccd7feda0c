package analysis

import (
	"fmt"
	"image/color"
	"maps"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// BOptVs draws the optimal batch sizes B_opt (a.Optima) against axis (AxisLR,
// AxisN, or AxisMomentum as 1/(1 − m)) on log–log axes, one colour per
// setting of the other axes (a slice of the fit): interior optima filled,
// optima at the edge of the batch-size grid hollow (the optimum may lie
// beyond; they are left out of the fit). Where the analysis has the fit
// (a.Fits), each slice gets its fitted line
//
//	log B̂(x) = ȳ_j + s (log x − x̄_j)
//
// with its 95 % confidence band ± t_{0.975, df} · σ̂ sqrt(1/n_j + (log x − x̄_j)²/S_xx),
// σ̂² = SE(s)² S_xx the residual variance, and the slope 1 Smith & Le predict
// as a dashed grey line through the slice's centroid. Without a fit the
// figure says why.
func BOptVs(a SweepAnalysis, axis string) *Figure {
	xname := axis
	xlabel := axis
	switch axis {
	case AxisLR:
		xname, xlabel = "ε", "learning rate ε (log scale)"
	case AxisN:
		xname, xlabel = "N", "training examples N (log scale)"
	case AxisMomentum:
		xname, xlabel = "1/(1−m)", "1/(1 − m), m the momentum (log scale)"
	}
	title := "B_opt vs " + xname
	var fit *ScalingFit
	for i := range a.Fits {
		if a.Fits[i].Axis == axis {
			fit = &a.Fits[i]
		}
	}
	type pt struct{ x, y float64 }
	type slice struct {
		label          string
		interior, edge []pt
	}
	index := map[string]int{}
	var slicesOf []slice
	var xs, ys []float64
	for _, o := range a.Optima {
		v, ok := o.Axes[axis]
		if axis == AxisMomentum && ok {
			v = 1 / (1 - v)
		}
		if !ok || !(v > 0) || math.IsInf(v, 0) || !(o.B > 0) {
			continue
		}
		k := axesKey(Point{Axes: o.Axes}, axis, AxisB, AxisSeed)
		i, seen := index[k]
		if !seen {
			i = len(slicesOf)
			index[k] = i
			slicesOf = append(slicesOf, slice{label: symbolAxes(o.Axes, axis, a.VaryingAxes)})
		}
		q := pt{math.Log10(v), math.Log10(o.B)}
		switch o.Refinement {
		case RefineParabola:
			slicesOf[i].interior = append(slicesOf[i].interior, q)
		case RefineEdge, RefineSingle:
			slicesOf[i].edge = append(slicesOf[i].edge, q)
		default:
			continue
		}
		xs, ys = append(xs, v), append(ys, o.B)
	}
	if len(xs) == 0 {
		return emptyFigure(title, "no optimal batch size located")
	}
	fitNote := "no slope: not enough data"
	haveFit := fit != nil && fit.Error == "" && finite(fit.Fit.Slope)
	if haveFit {
		fitNote = fmt.Sprintf("slope %.3g, 95%% CI [%.3g, %.3g], df %d; dashed: slope 1 (Smith & Le)", fit.Fit.Slope, fit.CI.Lo, fit.CI.Hi, fit.Fit.DF)
	} else if fit != nil && fit.Fit.N > 0 {
		fitNote = fmt.Sprintf("no slope: not enough data (%d usable optima, %d needed)", fit.Fit.N, MinFitOptima(fit.Fit.Slices))
	}
	edges := 0
	for _, sl := range slicesOf {
		edges += len(sl.edge)
	}
	edgeNote := ""
	if edges > 0 {
		edgeNote = fmt.Sprintf("hollow: %d optima at the grid's edge, left out", edges)
	}
	left := countsNote(a.Counts)
	p := plot.New()
	p.Title.Text = titledLines(title, fitNote, joinNotes(edgeNote, left))
	p.X.Label.Text = xlabel
	p.Y.Label.Text = "optimal batch size B_opt (examples, log scale)"
	leg := plot.NewLegend()
	// Pooled within-slice S_xx, as FitBatchScaling computes it.
	var sxx float64
	for _, sl := range slicesOf {
		if len(sl.interior) < 2 {
			continue
		}
		mx := 0.0
		for _, q := range sl.interior {
			mx += q.x
		}
		mx /= float64(len(sl.interior))
		for _, q := range sl.interior {
			sxx += (q.x - mx) * (q.x - mx) * math.Ln10 * math.Ln10 // in ln units, as the fit
		}
	}
	for i, sl := range slicesOf {
		c := seriesColor(i)
		if haveFit && len(sl.interior) >= 2 && sxx > 0 {
			var mx, my float64
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, q := range sl.interior {
				mx, my = mx+q.x, my+q.y
				lo, hi = min(lo, q.x), max(hi, q.x)
			}
			n := float64(len(sl.interior))
			mx, my = mx/n, my/n
			sigma2 := fit.Fit.SlopeSE * fit.Fit.SlopeSE * sxx // residual variance, ln units
			t := tQuantile(fit.Fit.DF)
			const steps = 40
			bx, blo, bhi := make([]float64, steps+1), make([]float64, steps+1), make([]float64, steps+1)
			var line plotter.XYs
			for k := range steps + 1 {
				x := lo + (hi-lo)*float64(k)/steps
				yhat := my + fit.Fit.Slope*(x-mx)
				dx := (x - mx) * math.Ln10
				h := t * math.Sqrt(sigma2*(1/n+dx*dx/sxx)) / math.Ln10
				bx[k], blo[k], bhi[k] = x, yhat-h, yhat+h
				line = append(line, plotter.XY{X: x, Y: yhat})
				ys = append(ys, math.Pow(10, yhat-h), math.Pow(10, yhat+h))
			}
			addBand(p, i, bx, blo, bhi)
			if l, err := plotter.NewLine(line); err == nil {
				l.Color, l.Width = c, vg.Points(1.5)
				p.Add(l)
			}
			pred := plotter.XYs{{X: lo, Y: my + PredictedSlope*(lo-mx)}, {X: hi, Y: my + PredictedSlope*(hi-mx)}}
			if l, err := plotter.NewLine(pred); err == nil {
				l.Color = color.Gray{Y: 110}
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
				p.Add(l)
			}
			ys = append(ys, math.Pow(10, pred[0].Y), math.Pow(10, pred[1].Y))
		}
		var th []plot.Thumbnailer
		if len(sl.interior) > 0 {
			sc, err := plotter.NewScatter(toXYs(sl.interior, func(q pt) (float64, float64) { return q.x, q.y }))
			if err == nil {
				sc.Color, sc.Shape, sc.Radius = c, draw.CircleGlyph{}, vg.Points(3.5)
				p.Add(sc)
				th = append(th, sc)
			}
		}
		if len(sl.edge) > 0 {
			sc, err := plotter.NewScatter(toXYs(sl.edge, func(q pt) (float64, float64) { return q.x, q.y }))
			if err == nil {
				sc.Color, sc.Shape, sc.Radius = c, draw.RingGlyph{}, vg.Points(3.5)
				p.Add(sc)
				if th == nil {
					th = append(th, sc)
				}
			}
		}
		label := sl.label
		if label == "" {
			label = "B_opt"
		}
		if th != nil {
			leg.Add(label, th...)
		}
	}
	lo, hi := minMax(xs)
	logAxis(&p.X, lo, hi)
	lo, hi = minMax(ys)
	logAxis(&p.Y, lo, hi)
	f := legendFigure(p, &leg, title)
	f.Note = left
	if !haveFit {
		f.Note = joinNotes(fitNote, left)
	}
	return f
}

// toXYs maps items to plot points.
func toXYs[T any](items []T, xy func(T) (float64, float64)) plotter.XYs {
	out := make(plotter.XYs, len(items))
	for i, it := range items {
		out[i].X, out[i].Y = xy(it)
	}
	return out
}

// fitAxesDrawn returns the axes of a's fits along which the optima take two
// or more values (the B_opt figures worth drawing).
func fitAxesDrawn(a SweepAnalysis) []string {
	var out []string
	for _, f := range a.Fits {
		var vals []float64
		for _, o := range a.Optima {
			if v, ok := o.Axes[f.Axis]; ok && o.Refinement != RefineNone {
				vals = append(vals, v)
			}
		}
		if distinct(vals) > 1 && !slices.Contains(out, f.Axis) {
			out = append(out, f.Axis)
		}
	}
	return out
}

// symbolAxes names the values of the axes in only other than skip, in
// their symbols (axisSymbol): "N=1000, m=0.9".
func symbolAxes(axes map[string]float64, skip string, only []string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(axes)) {
		if k != skip && slices.Contains(only, k) {
			parts = append(parts, fmt.Sprintf("%s=%g", axisSymbol(k), axes[k]))
		}
	}
	return strings.Join(parts, ", ")
}
