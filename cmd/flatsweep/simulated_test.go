package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// TestAnalyzeWarnsOfSimulatedResults: reading a sweep with simulated
// results (flatsweep worker --simulate) warns on stderr how many there are;
// a sweep of real results gets no warning.
func TestAnalyzeWarnsOfSimulatedResults(t *testing.T) {
	trials := plantedTrials()
	db := writeDB(t, "planted", trials)
	stderr := func() string {
		t.Helper()
		root := newRootCmd()
		var out, errOut bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs([]string{"analyze", "planted", "--db", db})
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		return errOut.String()
	}
	if s := stderr(); strings.Contains(s, "simulated") {
		t.Fatalf("real results: unexpected warning %q", s)
	}
	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	first := -1
	for i, tr := range trials {
		if tr.result != nil {
			first = i
			break
		}
	}
	if _, err := st.UpdateTrial("planted", trialID(first), func(tr *pb.Trial) error {
		tr.Result.Simulated = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("1 of %d results are simulated", len(trials))
	if s := stderr(); !strings.Contains(s, want) {
		t.Fatalf("stderr %q, want it to contain %q", s, want)
	}
}
