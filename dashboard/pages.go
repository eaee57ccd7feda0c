package dashboard

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flatsweep/flatsweep/coordinator/lease"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// funcs returns the template functions.
func funcs() template.FuncMap {
	return template.FuncMap{
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return time.Since(t).Round(time.Second).String() + " ago"
		},
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"num": func(x float64) string {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return "—"
			}
			return strconv.FormatFloat(x, 'g', 5, 64)
		},
		"has": func(list []string, s string) bool { return slices.Contains(list, s) },
		// flip is the desc parameter of a column's sort link: a second click on
		// the column sorting it ascending sorts it descending.
		"flip": func(current, column string, desc bool) string {
			if current == column && !desc {
				return "1"
			}
			return ""
		},
		"query": func(base url.Values, kv ...string) string {
			q := url.Values{}
			for k, v := range base {
				q[k] = slices.Clone(v)
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] == "" {
					q.Del(kv[i])
				} else {
					q.Set(kv[i], kv[i+1])
				}
			}
			if len(q) == 0 {
				return "?"
			}
			return "?" + q.Encode()
		},
	}
}

// sweepView is one sweep as the pages show it.
type sweepView struct {
	ID, State                string
	Total, Finished, Running int32
	Counts                   []stateCount
	Priority                 int32
	Created                  time.Time
	Failures                 []results.Failure
	// Bar widths in percent of the sweep's trials: finished, running.
	BarDone, BarRunning string
}

type stateCount struct {
	State string
	N     int32
}

// viewOf converts a sweep message.
func viewOf(sw *pb.Sweep) sweepView {
	c := sw.StateCounts
	v := sweepView{ID: sw.Id, State: wire.SweepState(sw), Total: sw.TrialCount, Finished: wire.Finished(sw),
		Running: c["running"], Priority: sw.Priority, Created: sw.GetCreateTime().AsTime(),
		Failures: results.FailuresFromProto(sw.Failures)}
	for _, st := range wire.StateNames() {
		if n := c[st]; n > 0 {
			v.Counts = append(v.Counts, stateCount{st, n})
		}
	}
	pct := func(n int32) string {
		if v.Total == 0 {
			return "0"
		}
		return strconv.FormatFloat(100*float64(n)/float64(v.Total), 'f', 2, 64)
	}
	v.BarDone, v.BarRunning = pct(v.Finished), pct(v.Running)
	return v
}

// sweepsPage lists the sweeps.
func (s *Server) sweepsPage(w http.ResponseWriter, r *http.Request) error {
	c, cancel := ctx(r)
	defer cancel()
	resp, err := s.sweeps.ListSweeps(c, &pb.ListSweepsRequest{})
	if err != nil {
		return err
	}
	views := make([]sweepView, len(resp.Sweeps))
	for i, sw := range resp.Sweeps {
		views[i] = viewOf(sw)
	}
	workers, err := s.sweeps.ListWorkers(c, &pb.ListWorkersRequest{})
	if err != nil {
		return err
	}
	slots, running := int32(0), int32(0)
	for _, w := range workers.Workers {
		slots += w.Slots
		running += w.Running
	}
	return s.render(w, "sweeps.html", map[string]any{"Title": "Sweeps", "Sweeps": views,
		"Workers": len(workers.Workers), "Slots": slots, "Busy": running})
}

// records fetches every trial of a sweep, with its spec.
func (s *Server) records(r *http.Request, sweep string) ([]*pb.Trial, []results.Record, error) {
	c, cancel := ctx(r)
	defer cancel()
	return results.Fetch(c, s.sweeps.QueryResults, sweep)
}

// trialRow is one trial of the sweep page's table.
type trialRow struct {
	ID, State, Worker, Error string
	Attempt                  int32
	Values                   []string
	TestAcc, TrainAcc, Gap   float64
	Lambda, Seconds          float64
}

// trialColumns are the sortable columns after the axes.
var trialColumns = []string{"state", "attempt", "test_acc", "train_acc", "gap", "lambda_max", "seconds", "worker"}

// sweepPage shows one sweep.
func (s *Server) sweepPage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("sweep")
	c, cancel := ctx(r)
	defer cancel()
	got, err := s.sweeps.GetSweep(c, &pb.GetSweepRequest{SweepId: id})
	if err != nil {
		return err
	}
	view := viewOf(got.Sweep)
	data, err := s.sweep(r, id)
	if err != nil {
		return err
	}
	trials, recs := data.trials, data.recs
	q := r.URL.Query()
	varying, fixed := data.varying, data.fixed
	axes := spec.AxisNames()

	// Grouped results, by the axes chosen (default: those that vary, but
	// the seed), through the coordinator's AggregateResults.
	by := q["by"]
	for _, a := range by {
		if _, err := results.AxisPath(a); err != nil && !slices.Contains(axes, a) {
			return httpError{http.StatusBadRequest, fmt.Sprintf("by=%s: want axes among %s (or the path of an axis of the sweep)", a, strings.Join(axes, ", "))}
		}
	}
	req := &pb.AggregateResultsRequest{SweepId: id, GroupBy: by}
	for _, wh := range q["where"] {
		f, err := results.ParseFilter(wh)
		if err != nil {
			return httpError{http.StatusBadRequest, "where=" + err.Error()}
		}
		req.Filters = append(req.Filters, f.ToProto())
	}
	agg, err := s.sweeps.AggregateResults(c, req)
	if err != nil {
		return err
	}
	groups := results.GroupsFromProto(agg)
	var table bytes.Buffer
	if err := results.WriteTable(&table, groups); err != nil {
		return err
	}

	// The trials, filtered by state and sorted.
	state := q.Get("state")
	sortBy := cmp.Or(q.Get("sort"), "index")
	desc := q.Get("desc") != ""
	rows := make([]trialRow, 0, len(trials))
	index := map[string]int{}
	paths := make([]string, len(varying))
	for j, a := range varying {
		paths[j], _ = results.AxisPath(a)
	}
	for i, t := range trials {
		if state != "" && wire.StateName(t.State) != state {
			continue
		}
		index[t.Id] = int(t.Index)
		row := trialRow{ID: t.Id, State: recs[i].State, Worker: t.WorkerId, Attempt: t.Attempt, Error: results.FirstLine(t.LastError, 120),
			TestAcc: math.NaN(), TrainAcc: math.NaN(), Gap: math.NaN(), Lambda: math.NaN(), Seconds: math.NaN()}
		for _, p := range paths {
			v, _ := spec.GetJSON(recs[i].Spec, p)
			row.Values = append(row.Values, results.ShowValue(v))
		}
		if res := recs[i].Result; res != nil {
			row.TestAcc, row.TrainAcc, row.Gap, row.Lambda = res.TestAcc, res.TrainAcc, res.TrainAcc-res.TestAcc, res.LambdaMax
			row.Seconds = recs[i].Duration.Seconds()
		}
		rows = append(rows, row)
	}
	sortRows(rows, varying, sortBy, desc, index)
	const maxRows = 500
	shown := rows
	if len(shown) > maxRows {
		shown = shown[:maxRows]
	}

	version := fmt.Sprintf("%d-%d", data.version, data.computed.UnixMilli())
	return s.render(w, "sweep.html", map[string]any{
		"Title": id, "Sweep": view, "Query": q, "Axes": axes, "By": groups.By, "Varying": varying, "Fixed": fixed,
		"Groups": table.String(), "Trials": shown, "TrialCount": len(rows), "MoreTrials": len(rows) - len(shown),
		"Columns": trialColumns, "Sort": sortBy, "Desc": desc, "State": state, "States": wire.StateNames(),
		"Analysis": data.analysis, "Figures": pageFigures(data.points), "Version": version, "AsOf": data.computed,
	})
}

// sortRows sorts the trial rows by a column (an axis, one of trialColumns,
// or "index", the expansion order), missing values last.
func sortRows(rows []trialRow, axes []string, by string, desc bool, index map[string]int) {
	axis := slices.Index(axes, by)
	num := func(r trialRow) float64 {
		switch by {
		case "attempt":
			return float64(r.Attempt)
		case "test_acc":
			return r.TestAcc
		case "train_acc":
			return r.TrainAcc
		case "gap":
			return r.Gap
		case "lambda_max":
			return r.Lambda
		case "seconds":
			return r.Seconds
		}
		if axis >= 0 {
			if x, err := strconv.ParseFloat(r.Values[axis], 64); err == nil {
				return x
			}
		}
		return math.NaN()
	}
	slices.SortStableFunc(rows, func(a, b trialRow) int {
		var c int
		switch {
		case by == "index":
			c = cmp.Compare(index[a.ID], index[b.ID])
		case by == "state" || by == "worker":
			x, y := a.State, b.State
			if by == "worker" {
				x, y = a.Worker, b.Worker
			}
			c = strings.Compare(x, y)
		default:
			x, y := num(a), num(b)
			switch {
			case math.IsNaN(x) && math.IsNaN(y):
				c = 0
			case math.IsNaN(x):
				return 1 // missing values last, either way
			case math.IsNaN(y):
				return -1
			default:
				c = cmp.Compare(x, y)
			}
			if c == 0 && axis >= 0 {
				c = strings.Compare(a.Values[axis], b.Values[axis])
			}
		}
		if desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(index[a.ID], index[b.ID])
		}
		return c
	})
}

// trialPage shows one trial.
func (s *Server) trialPage(w http.ResponseWriter, r *http.Request) error {
	sweep, id := r.PathValue("sweep"), r.PathValue("trial")
	t, err := s.c.Core().Store().GetTrial(sweep, id)
	if err != nil {
		return err
	}
	rec, err := results.FromTrial(t)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, []byte(t.SpecJson), "", "  ")
	var measures []measureRow
	if res := rec.Result; res != nil {
		for _, k := range slices.Sorted(maps.Keys(res.Measures)) {
			measures = append(measures, measureRow{k, res.Measures[k]})
		}
	}
	var parts []string
	for _, a := range spec.AxisNames() {
		p, _ := spec.AxisPath(a)
		v, _ := spec.GetJSON(rec.Spec, p)
		parts = append(parts, a+"="+v)
	}
	point := strings.Join(parts, " ")
	var attempts []attemptView
	for _, a := range t.Attempts {
		v := attemptView{Attempt: a.Attempt, Worker: a.WorkerId, Start: a.GetStartTime().AsTime(), Outcome: a.Outcome, Error: a.Error}
		if a.EndTime != nil {
			v.End = a.EndTime.AsTime()
		}
		attempts = append(attempts, v)
	}
	logs, err := s.c.Core().Logs(lease.Key{Sweep: sweep, Trial: id}, 0)
	if err != nil {
		return err
	}
	return s.render(w, "trial.html", map[string]any{
		"Attempts": attempts, "Logs": logViews(logs),
		"Title": id, "Sweep": sweep, "Trial": t, "Record": rec, "Spec": pretty.String(), "Point": point,
		"Measures": measures, "Epochs": t.Curve, "Sharpness": sharpnessRows(rec.Result), "LeaseExpire": t.GetLeaseExpireTime().AsTime(),
		"Updated": t.GetUpdateTime().AsTime(), "Version": fmt.Sprintf("%d-%d", len(t.Curve), t.State),
	})
}

// logShown is how much of each stored output tail the trial page shows.
const logShown = 8 << 10

// logView is one attempt's output on the trial page: the ends of its tails.
type logView struct {
	Attempt              int32
	Worker               string
	Exit                 int32
	Stdout, Stderr       string
	StdoutCut, StderrCut bool
	Shown                int
}

// logViews returns the trial page's view of stored attempt logs.
func logViews(logs []*pb.CommandLog) []logView {
	end := func(b []byte) (string, bool) {
		if len(b) > logShown {
			return strings.ToValidUTF8(string(b[len(b)-logShown:]), "\uFFFD"), true
		}
		return strings.ToValidUTF8(string(b), "\uFFFD"), false
	}
	var out []logView
	for _, l := range logs {
		v := logView{Attempt: l.Attempt, Worker: l.WorkerId, Exit: l.ExitCode, Shown: logShown}
		v.Stdout, v.StdoutCut = end(l.Stdout)
		v.Stderr, v.StderrCut = end(l.Stderr)
		out = append(out, v)
	}
	return out
}

// sharpnessRow is one measurement of λ₁ along training on the trial page.
type sharpnessRow struct {
	spec.SharpnessPoint
	// Ratio is λ₁ over the stability limit (NaN without a limit).
	Ratio float64
}

// sharpnessRows returns the λ₁ measurements of a result (none for nil).
func sharpnessRows(res *spec.Result) []sharpnessRow {
	if res == nil {
		return nil
	}
	out := make([]sharpnessRow, 0, len(res.Sharpness))
	for _, p := range res.Sharpness {
		r := sharpnessRow{SharpnessPoint: p, Ratio: math.NaN()}
		if p.StabilityLimit > 0 {
			r.Ratio = p.LambdaMax / p.StabilityLimit
		}
		out = append(out, r)
	}
	return out
}

// attemptView is one attempt of the trial page.
type attemptView struct {
	Attempt        int32
	Worker         string
	Start, End     time.Time
	Outcome, Error string
}

type measureRow struct {
	Name  string
	Value float64
}

// workerView is one worker with the trials it runs.
type workerView struct {
	*pb.Worker
	LastSeen time.Time
	Trials   []runningTrial
}

type runningTrial struct {
	Sweep, Trial string
	Attempt      int32
	Expires      time.Time
}

// workersPage lists the workers and their trials.
func (s *Server) workersPage(w http.ResponseWriter, r *http.Request) error {
	c, cancel := ctx(r)
	defer cancel()
	workers, err := s.sweeps.ListWorkers(c, &pb.ListWorkersRequest{})
	if err != nil {
		return err
	}
	sweeps, err := s.sweeps.ListSweeps(c, &pb.ListSweepsRequest{})
	if err != nil {
		return err
	}
	byWorker := map[string][]runningTrial{}
	for _, sw := range sweeps.Sweeps {
		if sw.StateCounts["running"] == 0 {
			continue
		}
		resp, err := s.sweeps.QueryResults(c, &pb.QueryResultsRequest{SweepId: sw.Id, State: pb.TrialState_TRIAL_STATE_RUNNING, PageSize: 1000})
		if err != nil {
			return err
		}
		for _, t := range resp.Trials {
			byWorker[t.WorkerId] = append(byWorker[t.WorkerId], runningTrial{sw.Id, t.Id, t.Attempt, t.GetLeaseExpireTime().AsTime()})
		}
	}
	views := make([]workerView, len(workers.Workers))
	for i, wk := range workers.Workers {
		views[i] = workerView{Worker: wk, LastSeen: wk.GetLastSeenTime().AsTime(), Trials: byWorker[wk.Id]}
	}
	return s.render(w, "workers.html", map[string]any{"Title": "Workers", "Workers": views})
}
