package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/coordinator"
	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// warmSweep is a four-trial sweep that warm-starts from WARM, a path with no
// sha256 given.
const warmSweep = `name: warm
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train:
  epochs: 1
  warm_start: {path: WARM}
grid: {batch_size: [8], lr: [0.05, 0.1], seed: [1, 2]}
`

// loadWarmSweep writes warmSweep with the warm start at path, loads it as
// submit does, and returns the sweep and its trials.
func loadWarmSweep(t *testing.T, path string) (spec.Sweep, []sweeps.Trial) {
	t.Helper()
	file := writeSweep(t, strings.Replace(warmSweep, "WARM", path, 1))
	s, _, err := loadSweep(file, sweeps.Overrides{})
	if err != nil {
		t.Fatalf("load sweep with warm start %s: %v", path, err)
	}
	return s, sweeps.Expand(s)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func trialIDs(trials []sweeps.Trial) []string {
	ids := make([]string, len(trials))
	for i, tr := range trials {
		ids[i] = tr.ID
	}
	return ids
}

// startInProcessCoordinator serves a coordinator on a loopback port in this
// process and returns a client of it.
func startInProcessCoordinator(t *testing.T) pb.SweepServiceClient {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := coordinator.New(st, coordinator.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Serve(ctx, lis) }()
	conn, err := dialLoopback(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); cancel(); <-done; st.Close() })
	return pb.NewSweepServiceClient(conn)
}

// TestSubmittedWarmStartIsHashed: a sweep file whose warm start gives a path
// and no sha256 is submitted with the file's SHA-256 in every trial's spec;
// the trial IDs depend on the file's content, not on its path.
func TestSubmittedWarmStartIsHashed(t *testing.T) {
	content := []byte("not really safetensors, but any bytes are hashed")
	path := filepath.Join(t.TempDir(), "warm.safetensors")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	want := sha256Hex(content)
	s, trials := loadWarmSweep(t, path)
	if s.Train.WarmStart.SHA256 != want || s.Train.WarmStart.Path != path {
		t.Errorf("sweep warm start %+v, want path %s and sha256 %s", s.Train.WarmStart, path, want)
	}
	if len(trials) != 4 {
		t.Fatalf("%d trials, want 4", len(trials))
	}
	for _, tr := range trials {
		if tr.Spec.WarmStart.SHA256 != want || tr.ID != spec.ID(tr.Spec) {
			t.Errorf("trial %s (%s): warm start %+v, want sha256 %s", tr.ID, tr.Point, tr.Spec.WarmStart, want)
		}
	}
	ids := trialIDs(trials)

	// Submitted to a coordinator, the trials keep those IDs and specs.
	req, err := submitRequest(s, []byte(warmSweep), "warm.yaml", 0)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := spec.DecodeSweep([]byte(req.SpecJson))
	if err != nil || sent.Train.WarmStart.SHA256 != want {
		t.Fatalf("spec_json %s: %v", req.SpecJson, err)
	}
	c := startInProcessCoordinator(t)
	resp, err := c.SubmitSweep(context.Background(), req)
	if err != nil || resp.TrialsAdded != 4 {
		t.Fatalf("submit: %v (%v)", err, resp)
	}
	q, err := c.QueryResults(context.Background(), &pb.QueryResultsRequest{SweepId: "warm"})
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, tr := range q.Trials {
		stored = append(stored, tr.Id)
		st, err := spec.DecodeTrial([]byte(tr.SpecJson))
		if err != nil || st.WarmStart.SHA256 != want || spec.ID(st) != tr.Id {
			t.Errorf("stored trial %s: %v, spec %s", tr.Id, err, tr.SpecJson)
		}
	}
	slices.Sort(stored)
	if !slices.Equal(stored, slices.Sorted(slices.Values(ids))) {
		t.Errorf("stored trial IDs %v, want %v", stored, ids)
	}

	// Moved to another path, the same file gives the same IDs.
	moved := filepath.Join(t.TempDir(), "elsewhere", "moved.safetensors")
	if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, moved); err != nil {
		t.Fatal(err)
	}
	s2, trials2 := loadWarmSweep(t, moved)
	if s2.Train.WarmStart.Path != moved || s2.Train.WarmStart.SHA256 != want {
		t.Errorf("moved: warm start %+v", s2.Train.WarmStart)
	}
	if got := trialIDs(trials2); !slices.Equal(got, ids) {
		t.Errorf("moving the warm-start file changed the trial IDs:\n%v\n%v", got, ids)
	}
	// The coordinator agrees: resubmitting from the new path adds nothing.
	req2, err := submitRequest(s2, nil, "warm.yaml", 0)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := c.SubmitSweep(context.Background(), req2); err != nil || resp.TrialsAdded != 0 {
		t.Errorf("resubmit after the move: %v, %d trials added, want 0", err, resp.GetTrialsAdded())
	}

	// Changed content changes the digest and every ID.
	changed := append(slices.Clone(content), '!')
	if err := os.WriteFile(moved, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	_, trials3 := loadWarmSweep(t, moved)
	for i, tr := range trials3 {
		if tr.Spec.WarmStart.SHA256 != sha256Hex(changed) {
			t.Errorf("changed file: trial %s warm start %+v, want sha256 %s", tr.ID, tr.Spec.WarmStart, sha256Hex(changed))
		}
		if slices.Contains(ids, tr.ID) {
			t.Errorf("changed file: trial %d (%s) kept the ID %s", i, tr.Point, tr.ID)
		}
	}
}

// TestSubmitBadSAMExitsTwo: submit checks the sweep file before it dials the
// coordinator: a negative SAM radius is a usage error (exit status 2) naming
// the field, with no coordinator listening.
func TestSubmitBadSAMExitsTwo(t *testing.T) {
	body := strings.Replace(fmt.Sprintf(e2eSweep, 1), "train: {epochs: 1}", "train: {epochs: 1, sam: {rho: -1}}", 1)
	_, errs, code := runCLI(t, "submit", writeSweep(t, body), "--coordinator", "127.0.0.1:1")
	if code != 2 || !strings.Contains(errs, "train.sam.rho = -1: must be finite and ≥ 0") {
		t.Errorf("exit status %d, want 2 naming train.sam.rho; stderr:\n%s", code, errs)
	}
}
