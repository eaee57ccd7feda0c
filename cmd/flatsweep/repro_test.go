package main

import (
	be "encoding/binary"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/flatsweep/flatsweep/sweeps"
)

// reproductions are the shipped sweep files docs/REPRODUCTION.md runs, in
// its order.
var reproductions = []string{
	"keskar-f1.yaml", "keskar-f1-bn.yaml", "keskar-sb-lb.yaml",
	"yao-batch-spectrum.yaml", "yao-batch-spectrum-epochs.yaml",
	"increase-batch-vs-decay-lr.yaml",
	"sam-mnist.yaml", "sam-flatness.yaml",
	"keskar-warm-start.yaml", "keskar-augmentation.yaml", "edge-of-stability.yaml",
	"smith-le-noise-scale.yaml", "occam-evidence.yaml", "dinh-reparametrization.yaml",
	"skip-connections.yaml", "which-measure-predicts.yaml",
}

// TestReproduceScriptRunsEveryReproduction: scripts/reproduce.sh runs, by
// default, exactly the reproductions above, in the same order.
func TestReproduceScriptRunsEveryReproduction(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "scripts", "reproduce.sh"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "\nall=(")
	j := strings.Index(text[i+1:], ")")
	if i < 0 || j < 0 {
		t.Fatal("scripts/reproduce.sh: no all=(…) list")
	}
	var want []string
	for _, f := range reproductions {
		want = append(want, strings.TrimSuffix(f, ".yaml"))
	}
	if got := strings.Fields(text[i+len("\nall=(") : i+1+j]); !slices.Equal(got, want) {
		t.Errorf("scripts/reproduce.sh runs %v, want %v", got, want)
	}
}

// tinyProfile returns the sweep file at path with its data and network
// shrunk so that the whole sweep runs in seconds: the embedded synthetic task
// with N = 1,024 training examples (at least every batch size of the shipped
// reproductions; the file's own N where it sweeps grid.n) and 128 test
// examples in place of MNIST (a sweep on the synthetic task keeps its own,
// smaller data set; a sweep that augments its images gets as many generated
// 28×28 images, tinyImages), every hidden layer of width 8 (every
// model.hidden entry, or a resmlp's model.width; in each value of a
// grid.axes.model axis when the file sweeps whole models; with an axis over
// model.hidden, its k-th smallest width becomes 8k, so that its values stay
// distinct), and the curvature measured on 128 examples. Everything else —
// the grid and its axes, the optimizer, the epochs or steps, the schedules,
// SAM, batch norm, the measures and their settings — is the file's own, so
// the tiny run has the same trials, one for one, as the shipped sweep.
func tinyProfile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	root := doc.Content[0]
	set := func(m *yaml.Node, key, value string) {
		var v yaml.Node
		if err := yaml.Unmarshal([]byte(value), &v); err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				m.Content[i+1] = v.Content[0]
				return
			}
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v.Content[0])
	}
	find := func(m *yaml.Node, key string) *yaml.Node {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i+1]
			}
		}
		return nil
	}
	get := func(m *yaml.Node, key string) *yaml.Node {
		v := find(m, key)
		if v == nil {
			t.Fatalf("%s: no %q", path, key)
		}
		return v
	}
	// A sweep already on the synthetic task keeps its own data: its sizes are
	// part of the experiment (edge-of-stability's full batch, batch_size = n).
	// Augmentation translates images, which the synthetic task has not: a
	// sweep that augments gets tiny generated MNIST-format images instead.
	switch {
	case augments(t, path):
		set(root, "dataset", fmt.Sprintf("{name: mnist, dir: %q, n: 1024, n_test: 128, seed: 1}", tinyImages(t, 1024+128)))
	case get(get(root, "dataset"), "name").Value == "synthetic":
	case find(get(root, "grid"), "n") != nil: // N is the file's grid.n axis
		set(root, "dataset", "{name: synthetic, n_test: 128, seed: 1}")
	default:
		set(root, "dataset", "{name: synthetic, n: 1024, n_test: 128, seed: 1}")
	}
	// shrink sets every hidden width (mlp: model.hidden) or the residual
	// stream width (resmlp: model.width) of a model section to 8.
	shrink := func(model *yaml.Node) {
		shrunk := false
		for i := 0; i+1 < len(model.Content); i += 2 {
			switch v := model.Content[i+1]; model.Content[i].Value {
			case "hidden":
				for _, w := range v.Content {
					w.Value = "8"
				}
				shrunk = true
			case "width":
				v.Value = "8"
				shrunk = true
			}
		}
		if !shrunk {
			t.Fatalf("%s: a model without hidden or width", path)
		}
	}
	// The model is the file's model section or, when the file sweeps whole
	// models, each value of its grid.axes.model axis.
	axes := find(get(root, "grid"), "axes")
	switch {
	case axes != nil && find(axes, "model") != nil:
		for _, m := range find(axes, "model").Content {
			shrink(m)
		}
	case axes != nil && find(axes, "model.hidden") != nil && find(get(root, "model"), "hidden") == nil:
		// An axis over model.hidden keeps its values distinct: the k-th
		// smallest width of the axis becomes 8k.
		values := find(axes, "model.hidden").Content
		width := func(w *yaml.Node) int {
			n, err := strconv.Atoi(w.Value)
			if err != nil {
				t.Fatalf("%s: grid.axes.model.hidden: width %q: %v", path, w.Value, err)
			}
			return n
		}
		var widths []int
		for _, h := range values {
			for _, w := range h.Content {
				widths = append(widths, width(w))
			}
		}
		slices.Sort(widths)
		widths = slices.Compact(widths)
		for _, h := range values {
			for _, w := range h.Content {
				w.Value = strconv.Itoa(8 * (slices.Index(widths, width(w)) + 1))
			}
		}
	default:
		shrink(get(root, "model"))
	}
	set(get(root, "curvature"), "examples", "128")
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// augments reports whether a trial of the sweep file at path translates its
// training images (augment.shift > 0).
func augments(t *testing.T, path string) bool {
	t.Helper()
	s, err := sweeps.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(sweeps.Expand(s), func(tr sweeps.Trial) bool { return tr.Spec.Augment.Shift > 0 })
}

// tinyImages writes n generated 28×28 images in MNIST's IDX format (one
// t10k pair) to a temporary directory and returns it: class c ∈ {0, …, 9} is
// a bright 4×4 square at its own place on a grid of 5 × 2 places 5 pixels
// apart, on uniform noise, so that a small network learns it and a
// translation by up to 2 pixels keeps the classes apart.
func tinyImages(t *testing.T, n int) string {
	t.Helper()
	const size = 28
	rng := rand.New(rand.NewPCG(1, 2))
	img := []byte{0, 0, 8, 3}
	img = be.BigEndian.AppendUint32(img, uint32(n))
	img = be.BigEndian.AppendUint32(img, size)
	img = be.BigEndian.AppendUint32(img, size)
	lab := be.BigEndian.AppendUint32([]byte{0, 0, 8, 1}, uint32(n))
	for range n {
		c := rng.IntN(10)
		lab = append(lab, byte(c))
		y0, x0 := 6+(c/5)*10, 2+(c%5)*5
		for y := range size {
			for x := range size {
				p := byte(rng.IntN(80))
				if y >= y0 && y < y0+4 && x >= x0 && x < x0+4 {
					p = 180 + byte(rng.IntN(70))
				}
				img = append(img, p)
			}
		}
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"t10k-images-idx3-ubyte": img, "t10k-labels-idx1-ubyte": lab} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestReproductionsTinyProfile runs every shipped reproduction in its tiny
// profile (tinyProfile) with `flatsweep run`, in process, and checks that
// every trial of the sweep finished with a result — ok, or not fitted where
// a large batch took too few updates on the tiny task — and none failed,
// diverged or was left unfinished; that the tiny sweep has as many trials as
// the shipped one; and that each trial recorded the measures its sweep
// asks for (top_k's lambda_1 … lambda_5, keskar's ε-sharpness in the full
// space and the subspace, the λ₁ curve of curvature.track and its limit).
func TestReproductionsTinyProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every reproduction sweep")
	}
	for _, file := range reproductions {
		t.Run(strings.TrimSuffix(file, ".yaml"), func(t *testing.T) {
			path := filepath.Join("..", "..", "sweeps", file)
			shipped, err := sweeps.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			tiny := filepath.Join(dir, file)
			if err := os.WriteFile(tiny, tinyProfile(t, path), 0o644); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(dir, "run.db")
			if out, err := runCmd(t, "run", tiny, "--workers", "2", "--db", db); err != nil {
				t.Fatalf("run: %v\n%s", err, out)
			}
			csvText, err := runCmd(t, "export", shipped.Name, "--db", db, "--out", "-")
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			rows, err := csv.NewReader(strings.NewReader(csvText)).ReadAll()
			if err != nil || len(rows) < 1 {
				t.Fatalf("export: %v\n%s", err, csvText)
			}
			col := map[string]int{}
			for i, h := range rows[0] {
				col[h] = i
			}
			if len(rows)-1 != shipped.Len() {
				t.Errorf("%d trials exported, the shipped sweep has %d", len(rows)-1, shipped.Len())
			}
			want := map[string][]string{
				"keskar-f1.yaml":                 {"keskar_full_1e-3", "keskar_full_5e-4"},
				"keskar-f1-bn.yaml":              {"keskar_full_1e-3", "keskar_full_5e-4"},
				"yao-batch-spectrum.yaml":        {"lambda_1", "lambda_5", "top_k_converged"},
				"yao-batch-spectrum-epochs.yaml": {"lambda_1", "lambda_5", "top_k_converged"},
				"sam-flatness.yaml":              {"keskar_full_1e-3"},
				"keskar-sb-lb.yaml":              {"keskar_full_1e-3", "keskar_full_5e-4", "keskar_sub_1e-3", "keskar_sub_5e-4"},
				"keskar-warm-start.yaml":         {"keskar_full_1e-3", "keskar_full_5e-4", "keskar_sub_1e-3", "keskar_sub_5e-4"},
				"keskar-augmentation.yaml":       {"keskar_full_1e-3", "keskar_full_5e-4", "keskar_sub_1e-3", "keskar_sub_5e-4"},
				"edge-of-stability.yaml":         {"tracked_points", "tracked_lambda_max", "stability_limit"},
				"dinh-reparametrization.yaml":    {"lambda_1@dinh", "keskar_full_1e-3@dinh", "relative_flatness@dinh", "fisher_rao@dinh", "dinh_output_change"},
				"skip-connections.yaml":          {"lambda_1", "lambda_min_1", "lambda_min_converged"},
				"occam-evidence.yaml":            {"log_evidence", "log_occam", "log_det"},
				"which-measure-predicts.yaml": {"lambda_1", "trace", "log_evidence", "keskar_full_1e-3", "keskar_sub_1e-3",
					"adaptive_sharpness", "relative_flatness", "fisher_rao", "pac_bayes_flatness"},
			}[file]
			ok := 0
			for _, r := range rows[1:] {
				status := r[col["status"]]
				if !slices.Contains([]string{"ok", "not_fitted"}, status) || r[col["state"]] != "succeeded" {
					t.Errorf("trial %s: state %s, status %s, error %q", r[col["trial_id"]], r[col["state"]], status, r[col["error"]])
				}
				if status == "ok" {
					ok++
				}
				for _, k := range want {
					if i, has := col[k]; !has || r[i] == "" {
						t.Errorf("trial %s: no %s", r[col["trial_id"]], k)
					}
				}
			}
			if ok == 0 {
				t.Errorf("no trial is ok")
			}
		})
	}
}

// TestReproductionsPaperProfile: every shipped reproduction has a paper
// profile (its profiles section) that `flatsweep grid --profile paper`
// expands into a valid sweep named NAME-paper whose trials are not the
// laptop-scale ones, and `--set` changes it further.
func TestReproductionsPaperProfile(t *testing.T) {
	for _, file := range reproductions {
		t.Run(strings.TrimSuffix(file, ".yaml"), func(t *testing.T) {
			path := filepath.Join("..", "..", "sweeps", file)
			shipped, err := sweeps.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			paper, _, err := sweeps.ParseWith(mustRead(t, path), path, sweeps.Overrides{Profile: "paper"})
			if err != nil {
				t.Fatalf("--profile paper: %v", err)
			}
			if paper.Name != shipped.Name+"-paper" {
				t.Errorf("paper profile named %q, want %q", paper.Name, shipped.Name+"-paper")
			}
			ids := map[string]bool{}
			for _, tr := range sweeps.Expand(shipped) {
				ids[tr.ID] = true
			}
			for _, tr := range sweeps.Expand(paper) {
				if ids[tr.ID] {
					t.Errorf("trial %s is in both the shipped sweep and its paper profile", tr.ID)
				}
			}
			out, err := runCmd(t, "grid", path, "--profile", "paper", "--set", "grid.seed=[1]", "--set", "dataset.sha256="+strings.Repeat("ab", 32), "--format", "jsonl")
			if err != nil {
				t.Fatalf("grid --profile paper: %v\n%s", err, out)
			}
			seeds := len(paper.Grid.Seed)
			if seeds == 0 {
				seeds = 1
			}
			if got := strings.Count(out, "\n"); got*seeds != paper.Len() {
				t.Errorf("grid --profile paper --set grid.seed=[1]: %d trials, want %d / %d seeds", got, paper.Len(), seeds)
			}
		})
	}
}

// mustRead returns the content of the file at path.
func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
