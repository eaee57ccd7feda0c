package analysis

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// SharpnessCurve is the top Hessian eigenvalue λ₁ along the training of one
// trial (spec.Track), with the stability limit of its update rule at each
// measurement (2/ε for SGD; 0 where there is none, as for Adam).
type SharpnessCurve struct {
	// Label names the trial in the legend.
	Label string
	// Steps, Lambda and Limit are the number of updates, λ₁ and the
	// stability limit of each measurement.
	Steps, Lambda, Limit []float64
	// Diverged marks a trial whose loss diverged.
	Diverged bool
}

// SharpnessFromPoints returns the λ₁ curve of every point that tracked it,
// labelled as CurvesFromPoints labels training curves.
func SharpnessFromPoints(points []Point) []SharpnessCurve {
	var with []Point
	for _, p := range points {
		if len(p.Sharpness) > 0 {
			with = append(with, p)
		}
	}
	labels := curveLabels(with)
	out := make([]SharpnessCurve, 0, len(with))
	for i, p := range with {
		c := SharpnessCurve{Label: labels[i], Diverged: p.Status == StatusDiverged}
		if c.Diverged {
			c.Label += " (diverged)"
		}
		for _, s := range p.Sharpness {
			c.Steps = append(c.Steps, float64(s.Step))
			c.Lambda = append(c.Lambda, s.LambdaMax)
			c.Limit = append(c.Limit, s.StabilityLimit)
		}
		out = append(out, c)
	}
	return out
}

// SharpnessOf draws λ₁ along training (SharpnessAlongTraining) of up to max
// of the points that tracked it, picked as SelectCurvePoints picks curves,
// and returns a note saying which are shown; nil and "" when none tracked
// it.
func SharpnessOf(points []Point, max int) (*Figure, string) {
	// Successful trials, and diverged ones (marked): a trial that did not fit
	// its training set is left out, as everywhere.
	sel, note := selectPoints(points, max, "λ₁ tracked along training", func(p Point) bool {
		return len(p.Sharpness) > 0 && (p.Status == StatusOK || p.Status == StatusDiverged)
	})
	if len(sel) == 0 {
		return nil, ""
	}
	return SharpnessAlongTraining(SharpnessFromPoints(sel)), note
}

// SharpnessAlongTraining draws λ₁ of each curve against the number of
// updates, one colour per trial, with its stability limit as a dashed line
// of the same colour: under full-batch gradient descent λ₁ rises
// (progressive sharpening) until it reaches 2/ε and then hovers there, the
// edge of stability (Cohen et al. 2021); with SGD it levels off below. The
// y axis is logarithmic when the values span two decades or more. The note
// names curves without finite values and says when no limit is drawn.
func SharpnessAlongTraining(curves []SharpnessCurve) *Figure {
	const title = "λ₁ along training"
	p := plot.New()
	p.X.Label.Text = "updates"
	p.Y.Label.Text = "top Hessian eigenvalue λ₁"
	var all []float64
	for _, c := range curves {
		for j := range c.Lambda {
			if finite(c.Lambda[j]) && finite(c.Steps[j]) {
				all = append(all, c.Lambda[j])
				if c.Limit[j] > 0 && finite(c.Limit[j]) {
					all = append(all, c.Limit[j])
				}
			}
		}
	}
	lo, hi := minMax(all)
	logY := useLog(lo, hi)
	y := func(v float64) float64 {
		if logY {
			return math.Log10(v)
		}
		return v
	}
	if logY {
		logAxis(&p.Y, lo, hi)
		p.Y.Label.Text += " (log scale)"
	}
	leg := plot.NewLegend()
	var empty []string
	drawn, limits := 0, 0
	for i, c := range curves {
		var xys, lim plotter.XYs
		for j := range min(len(c.Steps), len(c.Lambda), len(c.Limit)) {
			if !finite(c.Steps[j]) || !finite(c.Lambda[j]) || (logY && !(c.Lambda[j] > 0)) {
				continue
			}
			xys = append(xys, plotter.XY{X: c.Steps[j], Y: y(c.Lambda[j])})
			if c.Limit[j] > 0 && finite(c.Limit[j]) {
				lim = append(lim, plotter.XY{X: c.Steps[j], Y: y(c.Limit[j])})
			}
		}
		if len(xys) == 0 {
			empty = append(empty, c.Label)
			continue
		}
		leg.Add(c.Label, addSeries(p, i, xys, nil, c.Diverged)...)
		drawn++
		if len(lim) > 0 {
			if l, err := plotter.NewLine(lim); err == nil {
				l.Color = seriesColor(i)
				l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
				p.Add(l)
				limits++
			}
		}
	}
	var notes []string
	if len(empty) > 0 {
		notes = append(notes, fmt.Sprintf("%d curves without finite values: %s", len(empty), strings.Join(empty, "; ")))
	}
	if drawn == 0 {
		return emptyFigure(title, joinNotes(append([]string{"no trial tracked λ₁ along training (curvature.track)"}, notes...)...))
	}
	if limits == 0 {
		notes = append(notes, "no stability limit drawn (Adam has none independent of its preconditioner)")
	} else if limits < drawn {
		notes = append(notes, fmt.Sprintf("stability limit (dashed) drawn for %d of %d trials", limits, drawn))
	}
	note := joinNotes(notes...)
	p.Title.Text = titledLines(title, "dashed: stability limit 2/ε (momentum β: (2 + 2β)/ε)", note)
	f := legendFigure(p, &leg, title)
	f.Note = note
	return f
}
