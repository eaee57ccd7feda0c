package compute

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestWarmStart: a warm-started trial starts from exactly the saved weights,
// records their digest, checks a given digest, and is deterministic.
func TestWarmStart(t *testing.T) {
	spec := TrialSpec{
		Dataset:   DatasetSpec{Name: "synthetic", N: 128, NTest: 64, Seed: 3},
		Model:     ModelSpec{Arch: "resmlp", Width: 8, Blocks: 1, Activation: "relu"},
		BatchSize: 16, LR: 0.05, Epochs: 2, Seed: 4,
		Curvature: CurvatureSpec{LanczosSteps: 4},
	}
	_, first, err := Run(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteWeights(f, first.Net, first.Theta, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, _ := os.ReadFile(path)
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])

	warm := spec
	warm.WarmStart = WarmStartSpec{Path: path, SHA256: digest}
	theta0, got, err := initialParams(warm, first.Net)
	if err != nil || got != digest || !slices.Equal(theta0, first.Theta) {
		t.Fatalf("initial params: err %v, digest %s (want %s), equal %v", err, got, digest, slices.Equal(theta0, first.Theta))
	}
	a, err := RunTrial(context.Background(), warm, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := RunTrial(context.Background(), warm, nil)
	if a.WarmStartSHA256 != digest || !reflect.DeepEqual(a, again) {
		t.Errorf("warm start: digest %q, deterministic %v", a.WarmStartSHA256, reflect.DeepEqual(a, again))
	}
	fresh, _ := RunTrial(context.Background(), spec, nil)
	if fresh.Curve[0].TrainLoss == a.Curve[0].TrainLoss {
		t.Error("warm start made no difference")
	}
	warm.WarmStart.SHA256 = strings.Repeat("0", 64)
	if _, err := RunTrial(context.Background(), warm, nil); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "warm_start.sha256") {
		t.Errorf("digest mismatch: %v", err)
	}
	warm.WarmStart = WarmStartSpec{Path: filepath.Join(t.TempDir(), "missing")}
	if _, err := RunTrial(context.Background(), warm, nil); err == nil || !strings.Contains(err.Error(), "warm_start.path") {
		t.Errorf("missing file: %v", err)
	}
	other := spec
	other.Model.Width = 9
	other.WarmStart = WarmStartSpec{Path: path}
	if _, err := RunTrial(context.Background(), other, nil); err == nil {
		t.Error("weights of another network accepted")
	}
}
