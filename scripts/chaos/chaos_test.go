package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// TestChaosBounded runs a short chaos run on real processes: 40 trials on
// three workers while every kind of fault is injected, and requires that no
// trial is lost or duplicated and that every result equals the fault-free
// reference bit for bit.
func TestChaosBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos run takes about half a minute; skipped with -short")
	}
	cfg := defaultConfig()
	cfg.Dir = t.TempDir()
	cfg.Trials, cfg.Workers, cfg.Slots = 40, 3, 1
	cfg.Duration, cfg.SettleTimeout = 40*time.Second, 2*time.Minute
	cfg.Epochs = 10 // about 0.2 s a trial
	cfg.Rates = map[faultKind]float64{workerKill: 12, workerStop: 8, coordKill: 6, coordStop: 4, connReset: 12, partition: 8, stall: 6}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := run(ctx, cfg, &progress)
	if err != nil {
		t.Fatalf("chaos run: %v\n%s", err, progress.String())
	}
	var out bytes.Buffer
	if err := rep.write(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
	for _, k := range faultKinds {
		if rep.Faults[string(k)] == 0 {
			t.Errorf("no %s fault was injected", k)
		}
	}
	if rep.Lost != 0 || rep.Duplicated != 0 || rep.Differing != 0 || rep.CSVDiffering != 0 {
		t.Errorf("lost %d, duplicated %d, differing %d (export rows %d)", rep.Lost, rep.Duplicated, rep.Differing, rep.CSVDiffering)
	}
	if rep.Identical != 40 || rep.CSVCompared != 40 {
		t.Errorf("%d results and %d export rows equal to the reference, want 40", rep.Identical, rep.CSVCompared)
	}
	if !rep.BackupMatches {
		t.Error("the hot backup does not export as the database file does")
	}
	if !rep.ok() {
		t.Errorf("the run failed:\n%s\n%s", out.String(), progress.String())
	}
}

// echoServer accepts connections on loopback and echoes what they send.
func echoServer(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln
}

// roundTrip writes msg on c and reads the echo within d.
func roundTrip(c net.Conn, msg string, d time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return errors.New("echo differs: " + string(buf))
	}
	return nil
}

// fresh makes a new connection through p and round-trips msg on it.
func fresh(p *proxy, msg string) error {
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		return err
	}
	defer c.Close()
	return roundTrip(c, msg, time.Second)
}

func dialProxy(t *testing.T, p *proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestProxyForwardsAndCuts(t *testing.T) {
	srv := echoServer(t)
	p, err := newProxy(srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()

	c := dialProxy(t, p)
	if err := roundTrip(c, "hello", time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	if n := p.reset(); n != 1 {
		t.Errorf("reset cut %d connections, want 1", n)
	}
	if err := roundTrip(c, "again", time.Second); err == nil {
		t.Error("a reset connection still carries data")
	}

	// A partition cuts the open connection and refuses new ones until it ends.
	c = dialProxy(t, p)
	if err := roundTrip(c, "x", time.Second); err != nil {
		t.Fatal(err)
	}
	if n := p.partition(400 * time.Millisecond); n != 1 {
		t.Errorf("partition cut %d connections, want 1", n)
	}
	if err := roundTrip(c, "y", time.Second); err == nil {
		t.Error("a partitioned connection still carries data")
	}
	if err := fresh(p, "z"); err == nil {
		t.Error("a connection made during a partition carries data")
	}
	time.Sleep(450 * time.Millisecond)
	if err := fresh(p, "after"); err != nil {
		t.Errorf("after the partition: %v", err)
	}

	// A stall holds the bytes without closing the connection.
	c = dialProxy(t, p)
	if err := roundTrip(c, "a", time.Second); err != nil {
		t.Fatal(err)
	}
	p.stall(time.Second)
	start := time.Now()
	if err := roundTrip(c, "held", 300*time.Millisecond); err == nil {
		t.Error("bytes crossed a stalled proxy")
	}
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "held" {
		t.Errorf("after the stall: %q, %v", buf, err)
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("the stalled bytes arrived after %v, before the stall ended", el)
	}

	// A target that refuses (the coordinator is down) resets the client.
	p.setTarget("127.0.0.1:1")
	if err := fresh(p, "down"); err == nil {
		t.Error("a connection to a dead target carries data")
	}
	p.setTarget(srv.Addr().String())
	if err := fresh(p, "up"); err != nil {
		t.Errorf("after the target came back: %v", err)
	}
}

func TestScheduleDealsEveryKindFirstAndRepeats(t *testing.T) {
	rates := map[faultKind]float64{workerKill: 1, workerStop: 1, coordKill: 0.01, coordStop: 0, connReset: 5, partition: 1, stall: 0}
	a, b := newSchedule(7, rates), newSchedule(7, rates)
	seen := map[faultKind]bool{}
	for i := 0; i < 5; i++ {
		f, ok := a.next()
		if !ok || seen[f.kind] || f.kind == stall || f.kind == coordStop {
			t.Fatalf("fault %d: kind %q (seen %v)", i, f.kind, seen)
		}
		seen[f.kind] = true
		if want := float64(i+1) / 7; f.share != want {
			t.Errorf("deck fault %d is due at %v of the trials, want %v", i, f.share, want)
		}
		if g, _ := b.next(); g != f {
			t.Fatalf("same seed, fault %d: %v and %v", i, f, g)
		}
	}
	counts := map[faultKind]int{}
	for i := 0; i < 2000; i++ {
		f, _ := a.next()
		if f.share != 0 {
			t.Fatalf("fault %d after the deck has a share %v", i+5, f.share)
		}
		counts[f.kind]++
	}
	if counts[stall] != 0 || counts[coordStop] != 0 || counts[connReset] < counts[workerKill]*3 {
		t.Errorf("kinds not drawn by rate: %v", counts)
	}
	if _, ok := newSchedule(1, nil).next(); ok {
		t.Error("a schedule without rates returned a fault")
	}
}

func TestCountLogCountsRecordingsPerTrial(t *testing.T) {
	logs := `{"level":"INFO","msg":"coordinator listening","addr":"127.0.0.1:1"}
{"level":"INFO","msg":"trial succeeded","sweep":"chaos","trial":"t-a"}
{"level":"INFO","msg":"trial succeeded","sweep":"other","trial":"t-a"}
{"level":"WARN","msg":"lease expired","sweep":"chaos","trial":"t-b"}
{"level":"INFO","msg":"trial succeeded","sweep":"chaos","trial":"t-b"}
not json
{"level":"INFO","msg":"trial succeeded","sweep":"chaos","trial":"t-a"}
{"level":"INFO","msg":"trial succ`
	lc := logCounts{recorded: map[string]int{}, events: map[string]int{}}
	if err := lc.countLog(strings.NewReader(logs)); err != nil {
		t.Fatal(err)
	}
	if lc.recorded["t-a"] != 2 || lc.recorded["t-b"] != 1 || len(lc.recorded) != 2 {
		t.Errorf("recorded %v, want t-a 2 and t-b 1", lc.recorded)
	}
	if lc.events["lease expired"] != 1 {
		t.Errorf("events %v", lc.events)
	}
}

// fakeTrials returns n succeeded trials with results and the same as a reference.
func fakeTrials(n int) (map[string]*pb.Trial, map[string]*pb.Trial) {
	run, ref := map[string]*pb.Trial{}, map[string]*pb.Trial{}
	for i := 0; i < n; i++ {
		id := "t-" + string(rune('a'+i))
		res := func() *pb.TrialResult {
			return &pb.TrialResult{TrainLoss: 0.1 * float64(i+1), TestAcc: 0.5, LambdaMax: 3, DurationSeconds: float64(i),
				Measures: map[string]float64{"trace": 7}, Curve: []*pb.EpochMetrics{{Epoch: 1, TrainLoss: 1}},
				Costs: []*pb.MeasureCost{{Measure: "lambda_max", Hvps: 9, Seconds: 0.5}}, TrainSeconds: 2, CurvatureSeconds: 1}
		}
		run[id] = &pb.Trial{Id: id, State: pb.TrialState_TRIAL_STATE_SUCCEEDED, Attempt: 1, LeaseToken: "k", Result: res()}
		r := res()
		r.DurationSeconds, r.TrainSeconds, r.CurvatureSeconds = 99, 98, 97 // wall time is not compared
		r.Costs[0].Seconds = 96
		ref[id] = &pb.Trial{Id: id, State: pb.TrialState_TRIAL_STATE_SUCCEEDED, Attempt: 1, LeaseToken: "k", Result: r}
	}
	return run, ref
}

func TestAuditFindsLostDuplicatedAndDiffering(t *testing.T) {
	const n = 8
	sw := &pb.Sweep{Id: sweepName, TrialCount: n}
	counts := map[string]int32{"succeeded": n}
	recorded := map[string]int{}
	run, ref := fakeTrials(n)
	for id := range run {
		recorded[id] = 1
	}
	rep := &report{Config: config{Trials: n}}
	audit(rep, n, sw, run, ref, map[string]int{}, counts)
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "no \"trial succeeded\" line") {
		t.Errorf("without recordings in the logs: problems %v", rep.Problems)
	}
	rep = &report{Config: config{Trials: n}}
	audit(rep, n, sw, run, ref, recorded, counts)
	if rep.Lost != 0 || rep.Duplicated != 0 || rep.Differing != 0 || rep.Identical != n || len(rep.Problems) != 0 {
		t.Fatalf("clean trials: lost %d, duplicated %d, differing %d, identical %d, problems %v",
			rep.Lost, rep.Duplicated, rep.Differing, rep.Identical, rep.Problems)
	}

	run["t-a"].State, run["t-a"].Result = pb.TrialState_TRIAL_STATE_DISCARDED, nil
	recorded["t-b"] = 2
	run["t-c"].Result.Measures["trace"] = 7.000000000000001 // one ulp
	run["t-d"].Result.Curve[0].TrainLoss = 2
	rep = &report{Config: config{Trials: n}}
	audit(rep, n, sw, run, ref, recorded, counts)
	if rep.Lost != 1 || !strings.HasPrefix(rep.LostTrials[0], "t-a: discarded") {
		t.Errorf("lost %d %v, want t-a", rep.Lost, rep.LostTrials)
	}
	if rep.Duplicated != 1 || !strings.HasPrefix(rep.DuplicatedTrials[0], "t-b: recorded 2 times") {
		t.Errorf("duplicated %d %v, want t-b", rep.Duplicated, rep.DuplicatedTrials)
	}
	if rep.Differing != 2 || !strings.Contains(rep.DifferingTrials[0], "measure trace") || !strings.Contains(rep.DifferingTrials[1], "curve epoch 1") {
		t.Errorf("differing %d %v, want t-c (trace) and t-d (curve)", rep.Differing, rep.DifferingTrials)
	}
	// The coordinator's counts no longer match the database's.
	if len(rep.Problems) != 2 {
		t.Errorf("problems %v, want the succeeded and discarded counts", rep.Problems)
	}

	// A result held by a trial that is not succeeded, a trial missing from the
	// database.
	run, ref = fakeTrials(n)
	run["t-a"].State = pb.TrialState_TRIAL_STATE_RUNNING
	delete(run, "t-b")
	rep = &report{Config: config{Trials: n}}
	audit(rep, n, sw, run, ref, recorded, nil)
	want := []string{"the database holds 7 trials", "t-a is running but holds a result", "reference trial t-b", "trial t-b, which is not in the database"}
	for _, w := range want {
		if !strings.Contains(strings.Join(rep.Problems, "\n"), w) {
			t.Errorf("problems %v: none says %q", rep.Problems, w)
		}
	}
}

func TestCompareCSVFindsOneBit(t *testing.T) {
	ref := "trial_id,state,train_loss\nt-a,succeeded,0.1\nt-b,succeeded,0.25\n"
	if diffs, n, err := compareCSV([]byte(ref), []byte(ref)); err != nil || len(diffs) != 0 || n != 2 {
		t.Fatalf("equal exports: %v, %d rows, %v", diffs, n, err)
	}
	got := "trial_id,state,train_loss\nt-b,succeeded,0.25\nt-a,succeeded,0.10000000000000002\n"
	diffs, _, err := compareCSV([]byte(got), []byte(ref))
	if err != nil || len(diffs) != 1 || !strings.Contains(diffs[0], "t-a: column train_loss") {
		t.Errorf("one ulp apart: %v, %v", diffs, err)
	}
	diffs, _, _ = compareCSV([]byte("trial_id,state,train_loss\nt-a,succeeded,0.1\n"), []byte(ref))
	if len(diffs) != 1 || !strings.Contains(diffs[0], "t-b: missing") {
		t.Errorf("a missing row: %v", diffs)
	}
	if _, _, err := compareCSV([]byte("trial_id\nt-a\nt-a\n"), []byte(ref)); err == nil {
		t.Error("a trial exported twice was not reported")
	}
	// Wall-clock seconds differ between runs and are not compared.
	timed := "trial_id,train_seconds,curvature_seconds,seconds_top_k,curvature_hvps\nt-a,%s,%s,%s,21\n"
	if diffs, _, _ := compareCSV([]byte(fmt.Sprintf(timed, "1.5", "2", "0.3")), []byte(fmt.Sprintf(timed, "9", "8", "7"))); len(diffs) != 0 {
		t.Errorf("seconds compared: %v", diffs)
	}
	if diffs, _, _ := compareCSV([]byte(strings.Replace(fmt.Sprintf(timed, "1", "1", "1"), ",21", ",22", 1)), []byte(fmt.Sprintf(timed, "1", "1", "1"))); len(diffs) != 1 {
		t.Errorf("products not compared: %v", diffs)
	}
}

func TestBadFlagsExitWithStatus2(t *testing.T) {
	for _, args := range [][]string{{"-workers", "0"}, {"-lease-ttl", "500ms"}, {"-stall", "-1"}, {"extra"}, {"-nope"}} {
		var stderr bytes.Buffer
		if code := mainErr(args, io.Discard, &stderr); code != 2 {
			t.Errorf("%v: exit status %d, want 2", args, code)
		}
		if stderr.Len() == 0 {
			t.Errorf("%v: no message", args)
		}
	}
	var stderr bytes.Buffer
	mainErr([]string{"-workers", "0"}, io.Discard, &stderr)
	if !strings.Contains(stderr.String(), "-workers") {
		t.Errorf("the message does not name the flag: %s", stderr.String())
	}
}
