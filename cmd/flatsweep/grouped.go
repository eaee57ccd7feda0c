package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/coordinator"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// parseWhere parses --where AXIS=V1,V2 filters.
func parseWhere(filters []string) ([]*pb.AxisFilter, error) {
	var out []*pb.AxisFilter
	for _, f := range filters {
		axis, vals, ok := strings.Cut(f, "=")
		if !ok || !slices.Contains(coordinator.Axes(), axis) {
			return nil, usagef("--where %q: want AXIS=V1,V2 with AXIS one of %s", f, strings.Join(coordinator.Axes(), ", "))
		}
		af := &pb.AxisFilter{Axis: axis}
		for _, v := range strings.Split(vals, ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, usagef("--where %q: %q is not a finite number", f, v)
			}
			af.Values = append(af.Values, x)
		}
		out = append(out, af)
	}
	return out, nil
}

// groupedResults prints the coordinator's grouped aggregation of a sweep.
func groupedResults(cmd *cobra.Command, conn connFlags, sweep string, groupBy, where []string, format string) error {
	for _, a := range groupBy {
		if !slices.Contains(coordinator.Axes(), a) {
			return usagef("--group-by %q: want axes among %s", a, strings.Join(coordinator.Axes(), ", "))
		}
	}
	filters, err := parseWhere(where)
	if err != nil {
		return err
	}
	var write func(io.Writer, *pb.AggregateResultsResponse) error
	switch format {
	case "table":
		write = writeGroupsTable
	case "csv":
		write = writeGroupsCSV
	case "json":
		write = func(w io.Writer, r *pb.AggregateResultsResponse) error { return writeGroupsJSON(w, r, false) }
	case "jsonl":
		write = func(w io.Writer, r *pb.AggregateResultsResponse) error { return writeGroupsJSON(w, r, true) }
	default:
		return usagef("--format: want table, csv, json or jsonl, got %q", format)
	}
	cc, err := conn.dial()
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), rpcTimeout)
	defer cancel()
	resp, err := pb.NewSweepServiceClient(cc).AggregateResults(ctx, &pb.AggregateResultsRequest{SweepId: sweep, GroupBy: groupBy, Filters: filters})
	if err != nil {
		return fmt.Errorf("aggregate results of %s: %w", sweep, err)
	}
	return write(cmd.OutOrStdout(), resp)
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

func writeGroupsTable(w io.Writer, r *pb.AggregateResultsResponse) error {
	names := r.Metrics
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := append(slices.Clone(r.GroupBy), "trials", "ok", "diverged", "failed", "unfinished")
	for _, n := range names {
		head = append(head, n+" (mean ± std)")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, g := range r.Groups {
		var cells []string
		for _, k := range g.Key {
			cells = append(cells, fmtNum(k))
		}
		cells = append(cells, fmt.Sprint(g.Trials), fmt.Sprint(g.Succeeded-g.Diverged), fmt.Sprint(g.Diverged), fmt.Sprint(g.Failed), fmt.Sprint(g.Unfinished))
		for i := range names {
			if m := g.Metrics[i]; m.Count > 0 {
				cells = append(cells, fmt.Sprintf("%s ± %s", fmtNum(m.Mean), fmtNum(m.Std)))
			} else {
				cells = append(cells, "-")
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func writeGroupsCSV(w io.Writer, r *pb.AggregateResultsResponse) error {
	names := r.Metrics
	cw := csv.NewWriter(w)
	head := append(slices.Clone(r.GroupBy), "trials", "succeeded", "diverged", "failed", "unfinished")
	for _, n := range names {
		head = append(head, n+"_count", n+"_mean", n+"_std", n+"_min", n+"_max", n+"_ci95_low", n+"_ci95_high")
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, g := range r.Groups {
		var cells []string
		for _, k := range g.Key {
			cells = append(cells, fmtNum(k))
		}
		cells = append(cells, fmt.Sprint(g.Trials), fmt.Sprint(g.Succeeded), fmt.Sprint(g.Diverged), fmt.Sprint(g.Failed), fmt.Sprint(g.Unfinished))
		for i := range names {
			m := g.Metrics[i]
			if m.Count == 0 {
				cells = append(cells, "0", "", "", "", "", "", "")
				continue
			}
			cells = append(cells, fmt.Sprint(m.Count), fmtNum(m.Mean), fmtNum(m.Std), fmtNum(m.Min), fmtNum(m.Max), fmtNum(m.Ci95Low), fmtNum(m.Ci95High))
		}
		if err := cw.Write(cells); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// jsonNum is a float64 that encodes non-finite values as null.
type jsonNum float64

// MarshalJSON writes NaN and ±Inf as null.
func (x jsonNum) MarshalJSON() ([]byte, error) {
	f := float64(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

type jsonMetric struct {
	Count int32   `json:"count"`
	Mean  jsonNum `json:"mean"`
	Std   jsonNum `json:"std"`
	Min   jsonNum `json:"min"`
	Max   jsonNum `json:"max"`
	Lo    jsonNum `json:"ci95_low"`
	Hi    jsonNum `json:"ci95_high"`
}

type jsonGroup struct {
	Key        map[string]float64    `json:"key"`
	Trials     int32                 `json:"trials"`
	Succeeded  int32                 `json:"succeeded"`
	Diverged   int32                 `json:"diverged"`
	Failed     int32                 `json:"failed"`
	Unfinished int32                 `json:"unfinished"`
	Metrics    map[string]jsonMetric `json:"metrics"`
}

// writeGroupsJSON writes the groups as one JSON array, or as JSON Lines.
func writeGroupsJSON(w io.Writer, r *pb.AggregateResultsResponse, lines bool) error {
	out := make([]jsonGroup, len(r.Groups))
	for i, g := range r.Groups {
		jg := jsonGroup{Key: map[string]float64{}, Trials: g.Trials, Succeeded: g.Succeeded, Diverged: g.Diverged,
			Failed: g.Failed, Unfinished: g.Unfinished, Metrics: map[string]jsonMetric{}}
		for j, a := range r.GroupBy {
			jg.Key[a] = g.Key[j]
		}
		for j, n := range r.Metrics {
			if m := g.Metrics[j]; m.Count > 0 {
				jg.Metrics[n] = jsonMetric{m.Count, jsonNum(m.Mean), jsonNum(m.Std), jsonNum(m.Min), jsonNum(m.Max), jsonNum(m.Ci95Low), jsonNum(m.Ci95High)}
			}
		}
		out[i] = jg
	}
	enc := json.NewEncoder(w)
	if !lines {
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, g := range out {
		if err := enc.Encode(g); err != nil {
			return err
		}
	}
	return nil
}
