package dashboard

import (
	"bytes"
	"net/http"
	"slices"
	"strings"

	"github.com/flatsweep/flatsweep/analysis"
	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// sweepFigure is one figure of the sweep page, drawn from the sweep's
// points.
type sweepFigure struct {
	name string
	draw func([]analysis.Point) *analysis.Figure
}

// maxCurves bounds the trials whose curves a figure draws (as the report's
// default does).
const maxCurves = 8

// sweepFigures returns the figures of the sweep page, in order: the report's
// accuracy against g, λ₁ against B, the heat maps of test accuracy and λ₁
// over B × ε, and the training curves of the trials the report would pick.
func sweepFigures() []sweepFigure {
	curves := func(metric string) func([]analysis.Point) *analysis.Figure {
		return func(p []analysis.Point) *analysis.Figure {
			sel, _ := analysis.SelectCurvePoints(p, maxCurves)
			return analysis.TrainingCurves(analysis.CurvesFromPoints(sel, metric), metric)
		}
	}
	heat := func(metric string) func([]analysis.Point) *analysis.Figure {
		return func(p []analysis.Point) *analysis.Figure { return analysis.HeatMap(p, metric) }
	}
	return []sweepFigure{
		{"acc_vs_g", analysis.AccVsG},
		{"lambda_vs_b", analysis.LambdaVsB},
		{"heatmap_test_acc", heat(analysis.MetricTestAcc)},
		{"heatmap_lambda_max", heat(analysis.MetricLambdaMax)},
		{"curves_test_acc", curves(analysis.MetricTestAcc)},
		{"curves_train_loss", curves(analysis.MetricTrainLoss)},
		{sharpnessFigure, func(p []analysis.Point) *analysis.Figure {
			if f, _ := analysis.SharpnessOf(p, maxCurves); f != nil {
				return f
			}
			return analysis.SharpnessAlongTraining(nil) // says that no trial tracked λ₁
		}},
	}
}

// sharpnessFigure is the figure of λ₁ along training, shown only for sweeps
// that track it.
const sharpnessFigure = "sharpness"

// pageFigures returns the names of the figures the sweep page shows for
// its points: every figure, λ₁ along training only when a trial tracked it.
func pageFigures(points []analysis.Point) []string {
	names := figureNames()
	if !slices.ContainsFunc(points, func(p analysis.Point) bool { return len(p.Sharpness) > 0 }) {
		names = slices.DeleteFunc(names, func(n string) bool { return n == sharpnessFigure })
	}
	return names
}

// figureNames returns the names of the sweep page's figures.
func figureNames() []string {
	var names []string
	for _, f := range sweepFigures() {
		names = append(names, f.name)
	}
	return names
}

// figure serves one figure of a sweep as SVG, drawn from its trials as they
// are now (the page asks again, with a new version in the URL, when they
// change).
func (s *Server) figure(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimSuffix(r.PathValue("figure"), ".svg")
	figs := sweepFigures()
	i := slices.IndexFunc(figs, func(f sweepFigure) bool { return f.name == name })
	if i < 0 {
		return httpError{http.StatusNotFound, "no figure " + name}
	}
	data, err := s.sweep(r, r.PathValue("sweep"))
	if err != nil {
		return err
	}
	svg, err := data.figure(name, figs[i].draw)
	if err != nil {
		return err
	}
	return writeSVG(w, svg)
}

// trialCurve serves one trial's test accuracy per epoch as SVG.
func (s *Server) trialCurve(w http.ResponseWriter, r *http.Request) error {
	t, err := s.c.Core().Store().GetTrial(r.PathValue("sweep"), r.PathValue("trial"))
	if err != nil {
		return err
	}
	var epochs, acc []float64
	for _, e := range t.Curve {
		epochs = append(epochs, float64(e.Epoch))
		acc = append(acc, e.TestAcc)
	}
	return writeFigure(w, analysis.TrainingCurves([]analysis.Curve{{Label: t.Id, Epochs: epochs, Values: acc}}, analysis.MetricTestAcc))
}

// trialSharpness serves one trial's λ₁ along training, with its stability
// limit, as SVG.
func (s *Server) trialSharpness(w http.ResponseWriter, r *http.Request) error {
	id, res, err := s.trialResult(r)
	if err != nil {
		return err
	}
	p := analysis.Point{ID: id, Status: analysis.StatusOK}
	if res != nil {
		p.Sharpness = res.Sharpness
	}
	return writeFigure(w, analysis.SharpnessAlongTraining(analysis.SharpnessFromPoints([]analysis.Point{p})))
}

// trialResult returns the ID and the result (nil if none yet) of the trial
// a request names.
func (s *Server) trialResult(r *http.Request) (string, *spec.Result, error) {
	t, err := s.c.Core().Store().GetTrial(r.PathValue("sweep"), r.PathValue("trial"))
	if err != nil {
		return "", nil, err
	}
	rec, err := results.FromTrial(t)
	if err != nil {
		return "", nil, err
	}
	return t.Id, rec.Result, nil
}

// writeFigure writes a figure as an SVG response.
func writeFigure(w http.ResponseWriter, f *analysis.Figure) error {
	var b bytes.Buffer
	if err := f.Write(&b, "svg"); err != nil {
		return err
	}
	return writeSVG(w, b.Bytes())
}

// landscapeFigures are the figures of a trial's loss landscape, by the name
// its URL gives.
var landscapeFigures = map[string]func(spec.Landscape) *analysis.Figure{
	"loss":          func(l spec.Landscape) *analysis.Figure { return analysis.LandscapeCurves(l, "loss") },
	"accuracy":      func(l spec.Landscape) *analysis.Figure { return analysis.LandscapeCurves(l, "acc") },
	"train-contour": func(l spec.Landscape) *analysis.Figure { return analysis.LandscapeContour(l, "train") },
	"test-contour":  func(l spec.Landscape) *analysis.Figure { return analysis.LandscapeContour(l, "test") },
}

// trialLandscape serves one figure of a trial's loss landscape as SVG.
func (s *Server) trialLandscape(w http.ResponseWriter, r *http.Request) error {
	draw, ok := landscapeFigures[strings.TrimSuffix(r.PathValue("figure"), ".svg")]
	if !ok {
		return httpError{http.StatusNotFound, "no landscape figure " + r.PathValue("figure")}
	}
	id, res, err := s.trialResult(r)
	if err != nil {
		return err
	}
	if res == nil || res.Landscape == nil {
		return httpError{http.StatusNotFound, "trial " + id + " has no loss landscape"}
	}
	return writeFigure(w, draw(*res.Landscape))
}

// writeSVG writes an SVG response.
func writeSVG(w http.ResponseWriter, svg []byte) error {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(svg)
	return err
}
