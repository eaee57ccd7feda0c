package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/spec"
)

// TestOccamEvidenceDenseLogDet checks the evidence measure of
// sweeps/occam-evidence.yaml against a dense computation on its tiny
// profile (tinyProfile), where the network is small enough to form the
// curvature matrix: one trial per label-noise value of the sweep is trained
// with `flatsweep train`, and on its M curvature examples the matrix
// A = M·G + λI (G the Gauss–Newton matrix of the mean loss, the measure's
// default operator) is built column by column from Gauss–Newton products and
// decomposed densely (gonum's EigenSym). The trial's "log_det", a stochastic
// Lanczos quadrature estimate of log det A, must agree with Σ ln λᵢ(A) within
// four of its own standard errors (2·"log_occam_se"), and its "log_occam"
// with −½ Σ ln(λᵢ/λ) likewise; every eigenvalue of A must be ≥ λ (G is
// positive semidefinite, so nothing is clipped: "occam_clipped" = 0). With
// 400 runs on the saved model (`flatsweep hessian`) the estimate must agree
// within four of its (then < 1 %) standard errors.
func TestOccamEvidenceDenseLogDet(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the tiny occam-evidence trials")
	}
	dir := t.TempDir()
	tiny := filepath.Join(dir, "occam-evidence.yaml")
	if err := os.WriteFile(tiny, tinyProfile(t, filepath.Join("..", "..", "sweeps", "occam-evidence.yaml")), 0o644); err != nil {
		t.Fatal(err)
	}
	// Trials 0, 6, 12, 18: B = 32, seed 1 at label noise 0, 0.1, 0.2, 0.4.
	for _, trial := range []string{"0", "6", "12", "18"} {
		out := filepath.Join(dir, "trial"+trial)
		if msg, err := runCmd(t, "train", tiny, "--trial", trial, "--out", out); err != nil {
			t.Fatalf("train --trial %s: %v\n%s", trial, err, msg)
		}
		var saved struct {
			Spec spec.Trial `json:"spec"`
		}
		var res spec.Result
		for name, v := range map[string]any{"trial.json": &saved, "result.json": &res} {
			data, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, v); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		ev, ok := saved.Spec.Curvature.Measures.Settings("evidence")
		if !ok {
			t.Fatalf("trial %s: no evidence measure", trial)
		}
		lambda := ev.(spec.EvidenceSettings).Lambda
		if lambda == 0 {
			lambda = 1 // the measure's default
		}
		w, err := os.Open(filepath.Join(out, "weights.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		model, err := compute.LoadModel(saved.Spec, w)
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		x, y := model.Examples.X, model.Examples.Y
		p, m := len(model.Theta), float64(len(y))
		g := nn.NewGaussNewton(model.Net, model.Theta, x, y, compute.ChunkRows)
		cols := make([][]float64, p) // cols[j] = G e_j
		e := make([]float64, p)
		for j := range p {
			e[j], cols[j] = 1, make([]float64, p)
			g.Apply(cols[j], e)
			e[j] = 0
		}
		a := mat.NewSymDense(p, nil)
		for j := range p {
			for i := 0; i <= j; i++ {
				// G is symmetric to rounding: average its two triangles.
				v := m * (cols[j][i] + cols[i][j]) / 2
				if i == j {
					v += lambda
				}
				a.SetSym(i, j, v)
			}
		}
		var eig mat.EigenSym
		if !eig.Factorize(a, false) {
			t.Fatalf("trial %s: dense eigendecomposition failed", trial)
		}
		var logDet, occam float64
		minEig := math.Inf(1)
		for _, l := range eig.Values(nil) {
			minEig = min(minEig, l)
			logDet += math.Log(l)
			occam -= math.Log(l/lambda) / 2
		}
		mv := res.Measures
		se := 2 * mv["log_occam_se"]
		t.Logf("trial %s: P = %d, M = %.0f, λ = %g: log det SLQ %.6g ± %.3g, dense %.6g (Δ = %.3g, %.2f SE); log Occam %.6g, dense %.6g; min eigenvalue %.6g",
			trial, p, m, lambda, mv["log_det"], se, logDet, mv["log_det"]-logDet, (mv["log_det"]-logDet)/se, mv["log_occam"], occam, minEig)
		if !(se > 0) || math.Abs(mv["log_det"]-logDet) > 4*se || math.Abs(mv["log_occam"]-occam) > 4*mv["log_occam_se"] {
			t.Errorf("trial %s: SLQ log det %v ± %v (log Occam %v), dense %v (%v)", trial, mv["log_det"], se, mv["log_occam"], logDet, occam)
		}
		if minEig < lambda*(1-1e-9) || mv["occam_clipped"] != 0 {
			t.Errorf("trial %s: smallest eigenvalue of M·G + λI %v < λ = %v, or clipped %v", trial, minEig, lambda, mv["occam_clipped"])
		}
		// With 400 SLQ runs (`flatsweep hessian --evidence-runs 400` on the
		// saved model) the standard error falls below 1 % of log det A and
		// the estimate must still agree within four of them: SLQ is
		// unbiased here, not merely loose.
		js, err := runCmd(t, "hessian", "--weights", filepath.Join(out, "weights.safetensors"), "--spec", filepath.Join(out, "trial.json"),
			"--measures", "evidence", "--evidence-runs", "400", "--format", "json")
		if err != nil {
			t.Fatalf("hessian: %v\n%s", err, js)
		}
		var many struct {
			Measures map[string]float64 `json:"measures"`
		}
		if err := json.Unmarshal([]byte(js), &many); err != nil {
			t.Fatal(err)
		}
		se400 := 2 * many.Measures["log_occam_se"]
		t.Logf("trial %s: 400 runs: log det %.6g ± %.3g (Δ = %.3g, %.2f SE)", trial, many.Measures["log_det"], se400,
			many.Measures["log_det"]-logDet, (many.Measures["log_det"]-logDet)/se400)
		if !(se400 > 0) || se400 > 0.01*logDet || math.Abs(many.Measures["log_det"]-logDet) > 4*se400 {
			t.Errorf("trial %s: 400 SLQ runs: log det %v ± %v, dense %v", trial, many.Measures["log_det"], se400, logDet)
		}
	}
}
