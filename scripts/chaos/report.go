package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"text/tabwriter"
)

// report is the outcome of a chaos run.
type report struct {
	Config config `json:"config"`
	Dir    string `json:"dir"`

	Trials int            `json:"trials"` // trial records in the run's database
	Faults map[string]int `json:"faults"` // injected, by kind

	Lost             int      `json:"lost"` // trials not succeeded at the end
	LostTrials       []string `json:"lost_trials,omitempty"`
	Duplicated       int      `json:"duplicated"` // trials recorded more than once, and records beyond the grid
	DuplicatedTrials []string `json:"duplicated_trials,omitempty"`
	Identical        int      `json:"identical"` // succeeded trials whose result equals the reference's bit for bit
	Differing        int      `json:"differing"`
	DifferingTrials  []string `json:"differing_trials,omitempty"`
	NoReference      int      `json:"no_reference"` // succeeded trials the reference lacks
	CSVCompared      int      `json:"csv_compared"` // rows of `flatsweep export` compared with the reference's
	CSVDiffering     int      `json:"csv_differing"`
	CSVDiffs         []string `json:"csv_diffs,omitempty"`
	BackupMatches    bool     `json:"backup_matches"` // the hot backup exports the same as the file
	Problems         []string `json:"problems,omitempty"`

	Attempts    int            `json:"attempts"` // leases granted, summed over trials
	Recorded    int            `json:"recorded"` // "trial succeeded" log lines of every coordinator
	Events      map[string]int `json:"events"`   // counted log messages
	DoneInChaos int            `json:"done_in_chaos"`

	RefSeconds    float64 `json:"ref_seconds"` // 0 when the reference was given
	ChaosSeconds  float64 `json:"chaos_seconds"`
	SettleSeconds float64 `json:"settle_seconds"`
	TotalSeconds  float64 `json:"total_seconds"` // from submission to the last trial

	mu sync.Mutex
}

// addProblem records something that makes the run fail.
func (r *report) addProblem(p string) {
	r.mu.Lock()
	r.Problems = append(r.Problems, p)
	r.mu.Unlock()
}

// grid is the number of trials of the sweep.
func (r *report) grid() int { return gridSize(r.Config) }

// ok reports whether the run found nothing wrong: every trial succeeded
// once, with the reference's result, and nothing else went amiss.
func (r *report) ok() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.Differing == 0 && r.NoReference == 0 &&
		r.CSVDiffering == 0 && len(r.Problems) == 0 && r.Trials == r.grid() && r.Identical == r.grid() &&
		r.CSVCompared == r.grid()
}

// totalFaults is the number of faults injected.
func (r *report) totalFaults() int {
	n := 0
	for _, v := range r.Faults {
		n += v
	}
	return n
}

// write prints the summary table.
func (r *report) write(w io.Writer) error {
	c := r.Config
	fmt.Fprintf(w, "flatsweep chaos run: seed %d, %d workers × %d slot(s), lease TTL %s, max attempts %d, faults for at most %s\n",
		c.Seed, c.Workers, c.Slots, c.LeaseTTL, c.MaxAttempts, c.Duration)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(label, value string) { fmt.Fprintf(tw, "  %s\t%s\n", label, value) }
	row("trials", fmt.Sprint(r.grid()))
	row("faults injected", fmt.Sprint(r.totalFaults()))
	for _, k := range faultKinds {
		if n, ok := r.Faults[string(k)]; ok || c.Rates[k] > 0 {
			row("  "+k.describe(), fmt.Sprint(n))
		}
	}
	row("lost", fmt.Sprint(r.Lost))
	row("duplicated", fmt.Sprint(r.Duplicated))
	row("bit-identical to reference", fmt.Sprintf("%d/%d", r.Identical, r.grid()))
	row("  export rows equal to reference", fmt.Sprintf("%d/%d", r.CSVCompared-r.CSVDiffering, r.grid()))
	row("hot backup equals database", yesNo(r.BackupMatches))
	row("other problems", fmt.Sprint(len(r.Problems)))
	row("leases granted", fmt.Sprint(r.Attempts))
	row("results recorded (coordinator logs)", fmt.Sprint(r.Recorded))
	for _, m := range []struct{ label, msg string }{
		{"leases expired", "lease expired"},
		{"trials abandoned on a lost lease", "trial abandoned: lease lost"},
		{"late results refused", "result rejected"},
		{"repeated reports acknowledged", "result was already recorded"},
		{"trial runs finished (worker logs)", "trial finished"},
	} {
		row(m.label, fmt.Sprint(r.Events[m.msg]))
	}
	done := r.grid() - r.Lost // an unfinished run counts the trials it finished
	row("throughput", fmt.Sprintf("%.2f trials/s (%d trials in %.1fs from submission)", rate(done, r.TotalSeconds), done, r.TotalSeconds))
	row("  while faults ran", fmt.Sprintf("%.2f trials/s (%d trials in %.1fs)", rate(r.DoneInChaos, r.ChaosSeconds), r.DoneInChaos, r.ChaosSeconds))
	if r.RefSeconds > 0 {
		row("  reference, fault-free", fmt.Sprintf("%.2f trials/s (flatsweep run, %.1fs)", rate(r.grid(), r.RefSeconds), r.RefSeconds))
	}
	verdict := "PASS"
	if !r.ok() {
		verdict = "FAIL"
	}
	row("result", verdict)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range []struct {
		title string
		items []string
	}{
		{"lost trials", r.LostTrials}, {"duplicated trials", r.DuplicatedTrials},
		{"differing results", r.DifferingTrials}, {"differing export rows", r.CSVDiffs},
		{"problems", r.Problems},
	} {
		if len(l.items) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", l.title)
		for _, it := range trimList(l.items, 20) {
			fmt.Fprintf(w, "  %s\n", it)
		}
	}
	if c.Duration > 0 && r.ChaosSeconds < c.Duration.Seconds()-1 && r.DoneInChaos == r.grid() {
		fmt.Fprintf(w, "note: the sweep finished %.0fs into the %s fault phase; raise -trials for a longer one\n", r.ChaosSeconds, c.Duration)
	}
	fmt.Fprintf(w, "logs, databases and the fault log: %s\n", r.Dir)
	return nil
}

// writeJSON writes the report as JSON to path.
func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func rate(n int, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(n) / seconds
}
