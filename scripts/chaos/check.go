package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// logCounts are the events the processes' logs record.
type logCounts struct {
	recorded map[string]int // "trial succeeded" lines by trial ID, over every coordinator
	events   map[string]int // other lines by message
}

// countedMessages are the log messages counted into the summary.
var countedMessages = []string{
	"lease expired", "trial handed back", "undelivered lease handed back", // coordinator
	"trial finished", "trial abandoned: lease lost", "result rejected", "result was already recorded",
	"trial handed back unfinished", "trial failed", "could not hand the trial back; its lease will expire", // worker
}

// countLog adds the JSON log lines of r to lc. Lines cut short by a SIGKILL
// and other non-JSON lines are skipped.
func (lc *logCounts) countLog(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var rec struct {
			Msg   string `json:"msg"`
			Sweep string `json:"sweep"`
			Trial string `json:"trial"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		if rec.Msg == "trial succeeded" && rec.Sweep == sweepName {
			lc.recorded[rec.Trial]++
			continue
		}
		if slices.Contains(countedMessages, rec.Msg) {
			lc.events[rec.Msg]++
		}
	}
	return sc.Err()
}

// readLogs counts the logs of every process of the run.
func (h *harness) readLogs() (logCounts, error) {
	lc := logCounts{recorded: map[string]int{}, events: map[string]int{}}
	h.mu.Lock()
	procs := append(append([]*child(nil), h.coords...), h.allWork...)
	h.mu.Unlock()
	for _, c := range procs {
		f, err := os.Open(c.logPath)
		if err != nil {
			return lc, err
		}
		err = lc.countLog(f)
		_ = f.Close()
		if err != nil {
			return lc, fmt.Errorf("%s: %w", c.logPath, err)
		}
	}
	return lc, nil
}

// readTrials returns a database's sweep record and its trials by ID.
func readTrials(path string) (*pb.Sweep, map[string]*pb.Trial, error) {
	st, err := store.OpenReadOnly(path)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	sw, err := st.GetSweep(sweepName)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: sweep %s: %w", path, sweepName, err)
	}
	trials := map[string]*pb.Trial{}
	dup := 0
	err = st.Trials(sweepName, "", func(t *pb.Trial) bool {
		if _, ok := trials[t.Id]; ok {
			dup++
		}
		trials[t.Id] = t
		return true
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: trials: %w", path, err)
	}
	if dup > 0 {
		return nil, nil, fmt.Errorf("%s: %d trial IDs stored more than once", path, dup)
	}
	return sw, trials, nil
}

// audit compares the chaos run's trials with the reference's, filling the
// report's lost, duplicated and bit-identical counts. counts are the
// coordinator's last state counts (nil when it could not be read).
func audit(rep *report, grid int, sw *pb.Sweep, trials, ref map[string]*pb.Trial, recorded map[string]int, counts map[string]int32) {
	if int(sw.TrialCount) != grid {
		rep.addProblem(fmt.Sprintf("the sweep record counts %d trials, the grid has %d", sw.TrialCount, grid))
	}
	if len(trials) != grid {
		rep.addProblem(fmt.Sprintf("the database holds %d trials, the grid has %d", len(trials), grid))
	}
	if len(trials) > grid {
		rep.Duplicated += len(trials) - grid
	}
	tally := map[string]int32{}
	ids := make([]string, 0, len(trials))
	for id := range trials {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := trials[id]
		tally[store.StateName(t.State)]++
		rep.Attempts += int(t.Attempt)
		succeeded := t.State == pb.TrialState_TRIAL_STATE_SUCCEEDED
		switch {
		case !succeeded:
			rep.Lost++
			rep.LostTrials = append(rep.LostTrials, fmt.Sprintf("%s: %s after %d attempts (%s)", id, store.StateName(t.State), t.Attempt, t.LastError))
		case t.Result == nil:
			rep.addProblem(fmt.Sprintf("trial %s succeeded without a result", id))
		case t.LeaseToken == "":
			rep.addProblem(fmt.Sprintf("trial %s succeeded without the token of the lease that recorded it", id))
		}
		if !succeeded && t.Result != nil {
			rep.addProblem(fmt.Sprintf("trial %s is %s but holds a result", id, store.StateName(t.State)))
		}
		if n := recorded[id]; n > 1 {
			rep.Duplicated++
			rep.DuplicatedTrials = append(rep.DuplicatedTrials, fmt.Sprintf("%s: recorded %d times", id, n))
		}
		if succeeded && t.Result != nil {
			r := ref[id]
			switch {
			case r == nil || r.Result == nil:
				rep.NoReference++
			default:
				if d := resultDiff(t.Result, r.Result); d != "" {
					rep.Differing++
					rep.DifferingTrials = append(rep.DifferingTrials, id+": "+d)
				} else {
					rep.Identical++
				}
			}
		}
	}
	for id := range ref {
		if trials[id] == nil {
			rep.addProblem(fmt.Sprintf("reference trial %s is not in the run's database", id))
		}
	}
	for id, n := range recorded {
		if trials[id] == nil {
			rep.addProblem(fmt.Sprintf("the coordinator recorded %d results for trial %s, which is not in the database", n, id))
		}
	}
	if counts != nil {
		for _, st := range []string{"pending", "running", "succeeded", "failed", "discarded", "cancelled"} {
			if counts[st] != tally[st] {
				rep.addProblem(fmt.Sprintf("the coordinator counted %d %s trials, the database holds %d", counts[st], st, tally[st]))
			}
		}
	}
	for _, n := range recorded {
		rep.Recorded += n
	}
	if rep.Recorded == 0 && tally["succeeded"] > 0 {
		rep.addProblem("no \"trial succeeded\" line in the coordinators' logs: recordings cannot be counted, so duplicates would go unseen")
	}
}

// resultDiff describes the first difference between two results, ignoring
// the wall-clock seconds (the duration, training and curvature seconds and
// the seconds of every cost); "" when they are equal bit for bit.
func resultDiff(a, b *pb.TrialResult) string {
	a, b = proto.Clone(a).(*pb.TrialResult), proto.Clone(b).(*pb.TrialResult)
	for _, r := range []*pb.TrialResult{a, b} {
		r.DurationSeconds, r.TrainSeconds, r.CurvatureSeconds = 0, 0, 0
		for _, c := range r.Costs {
			c.Seconds = 0
		}
	}
	if proto.Equal(a, b) {
		return ""
	}
	for _, f := range []struct {
		name string
		x, y float64
	}{
		{"train_loss", a.TrainLoss, b.TrainLoss}, {"train_acc", a.TrainAcc, b.TrainAcc},
		{"test_loss", a.TestLoss, b.TestLoss}, {"test_acc", a.TestAcc, b.TestAcc},
		{"lambda_max", a.LambdaMax, b.LambdaMax}, {"lambda_residual", a.LambdaResidual, b.LambdaResidual},
	} {
		if math.Float64bits(f.x) != math.Float64bits(f.y) {
			return fmt.Sprintf("%s %v, reference %v", f.name, f.x, f.y)
		}
	}
	keys := map[string]bool{}
	for k := range a.Measures {
		keys[k] = true
	}
	for k := range b.Measures {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		x, okx := a.Measures[k]
		y, oky := b.Measures[k]
		if okx != oky || math.Float64bits(x) != math.Float64bits(y) {
			return fmt.Sprintf("measure %s %v, reference %v", k, x, y)
		}
	}
	if len(a.Curve) != len(b.Curve) {
		return fmt.Sprintf("curve of %d epochs, reference %d", len(a.Curve), len(b.Curve))
	}
	for i := range a.Curve {
		if !proto.Equal(a.Curve[i], b.Curve[i]) {
			return fmt.Sprintf("curve epoch %d: %v, reference %v", i+1, a.Curve[i], b.Curve[i])
		}
	}
	return fmt.Sprintf("results differ: %v, reference %v", a, b)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// wallClock reports whether an export column holds wall-clock seconds,
// which differ between runs of the same trial.
func wallClock(column string) bool {
	return column == "train_seconds" || column == "curvature_seconds" || strings.HasPrefix(column, "seconds_")
}

// compareCSV compares two exports of a sweep row by row (keyed by trial_id)
// and cell by cell, as text: the export writes floats in shortest round-trip
// form, so equal text is equal bits. Columns of wall-clock seconds are not
// compared. It returns the trials whose rows differ (with the first
// differing column) and the number of rows compared.
func compareCSV(got, want []byte) (diffs []string, compared int, err error) {
	gh, grows, err := readCSV(got)
	if err != nil {
		return nil, 0, fmt.Errorf("run export: %w", err)
	}
	wh, wrows, err := readCSV(want)
	if err != nil {
		return nil, 0, fmt.Errorf("reference export: %w", err)
	}
	if !slices.Equal(gh, wh) {
		return []string{fmt.Sprintf("columns differ: %v, reference %v", gh, wh)}, 0, nil
	}
	for id, row := range grows {
		ref, ok := wrows[id]
		if !ok {
			diffs = append(diffs, id+": not in the reference export")
			continue
		}
		compared++
		for i := range row {
			if row[i] != ref[i] && !wallClock(gh[i]) {
				diffs = append(diffs, fmt.Sprintf("%s: column %s %q, reference %q", id, gh[i], row[i], ref[i]))
				break
			}
		}
	}
	for id := range wrows {
		if _, ok := grows[id]; !ok {
			diffs = append(diffs, id+": missing from the run's export")
		}
	}
	sort.Strings(diffs)
	return diffs, compared, nil
}

// readCSV reads an export: its header and its rows by trial_id.
func readCSV(b []byte) ([]string, map[string][]string, error) {
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("empty export")
	}
	head := recs[0]
	col := slices.Index(head, "trial_id")
	if col < 0 {
		return nil, nil, fmt.Errorf("no trial_id column in %v", head)
	}
	rows := map[string][]string{}
	for _, r := range recs[1:] {
		if _, dup := rows[r[col]]; dup {
			return nil, nil, fmt.Errorf("trial %s exported twice", r[col])
		}
		rows[r[col]] = r
	}
	return head, rows, nil
}

// account reads the databases, exports and logs of a finished run into rep.
func (h *harness) account(ctx context.Context, rep *report, refDB, backup string, counts map[string]int32) error {
	lc, err := h.readLogs()
	if err != nil {
		return err
	}
	rep.Events = lc.events
	db := filepath.Join(h.dir, "chaos.db")
	sw, trials, err := readTrials(db)
	if err != nil {
		return err
	}
	_, ref, err := readTrials(refDB)
	if err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	rep.Trials = len(trials)
	audit(rep, gridSize(h.cfg), sw, trials, ref, lc.recorded, counts)

	// The same comparison through the command a user would run.
	export := func(path string) ([]byte, error) {
		out, err := h.cli(ctx, "export", sweepName, "--db", path, "--out", "-", "--format", "csv")
		return []byte(out), err
	}
	got, err := export(db)
	if err != nil {
		return err
	}
	want, err := export(refDB)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"chaos.csv", got}, {"ref.csv", want}} {
		if err := os.WriteFile(filepath.Join(h.dir, f.name), f.b, 0o644); err != nil {
			return err
		}
	}
	diffs, compared, err := compareCSV(got, want)
	if err != nil {
		return err
	}
	rep.CSVCompared, rep.CSVDiffering = compared, len(diffs)
	rep.CSVDiffs = diffs
	if backup != "" {
		b, err := export(backup)
		switch {
		case err != nil:
			rep.addProblem(fmt.Sprintf("export the backup: %v", err))
		case !bytes.Equal(b, got):
			rep.addProblem("the hot backup's export differs from the database file's")
		default:
			rep.BackupMatches = true
		}
	}
	return nil
}

// gridSize is the number of trials of the sweep sweepYAML writes.
func gridSize(c config) int { return 8 * ((c.Trials + 7) / 8) }

// trimList keeps the first n entries of a list, noting how many were left out.
func trimList(l []string, n int) []string {
	if len(l) <= n {
		return l
	}
	return append(l[:n:n], fmt.Sprintf("… and %d more", len(l)-n))
}
