package dashboard

import (
	"bytes"
	"net/http"

	"github.com/flatsweep/flatsweep/analysis"
)

// figureNames are the figures of the sweep page, in order: the report's
// accuracy against g, λ₁ against B, the heat maps of test accuracy and λ₁ over B × ε, and
// the training curves.
var figureNames = []string{"acc_vs_g", "lambda_vs_b", "heatmap_test_acc", "heatmap_lambda_max", "curves_test_acc", "curves_train_loss"}

// maxCurves bounds the trials whose curves a figure draws.
const maxCurves = 8

// figure renders one figure of a sweep as SVG, from its trials as they are
// now (the page asks again, with a new version in the URL, when they
// change).
func (s *Server) figure(w http.ResponseWriter, r *http.Request) error {
	name := trimExt(r.PathValue("figure"))
	var draw func([]analysis.Point) *analysis.Figure
	switch name {
	case "acc_vs_g":
		draw = analysis.AccVsG
	case "lambda_vs_b":
		draw = analysis.LambdaVsB
	case "heatmap_test_acc":
		draw = func(p []analysis.Point) *analysis.Figure { return analysis.HeatMap(p, analysis.MetricTestAcc) }
	case "heatmap_lambda_max":
		draw = func(p []analysis.Point) *analysis.Figure { return analysis.HeatMap(p, analysis.MetricLambdaMax) }
	case "curves_test_acc", "curves_train_loss":
		metric := analysis.MetricTestAcc
		if name == "curves_train_loss" {
			metric = analysis.MetricTrainLoss
		}
		draw = func(p []analysis.Point) *analysis.Figure {
			return analysis.TrainingCurves(analysis.CurvesFromPoints(p[:min(len(p), maxCurves)], metric), metric)
		}
	default:
		return httpError{http.StatusNotFound, "no figure " + name}
	}
	data, err := s.sweep(r, r.PathValue("sweep"))
	if err != nil {
		return err
	}
	svg, err := data.figure(name, draw)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(svg)
	return err
}

// trialCurve renders one trial's test accuracy and training loss per epoch.
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
	f := analysis.TrainingCurves([]analysis.Curve{{Label: t.Id, Epochs: epochs, Values: acc}}, analysis.MetricTestAcc)
	return writeSVG(w, f)
}

// writeSVG writes a figure as an SVG response.
func writeSVG(w http.ResponseWriter, f *analysis.Figure) error {
	var b bytes.Buffer
	if err := f.Write(&b, "svg"); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(b.Bytes())
	return err
}

// trimExt drops a figure name's ".svg".
func trimExt(name string) string {
	if len(name) > 4 && name[len(name)-4:] == ".svg" {
		return name[:len(name)-4]
	}
	return name
}
