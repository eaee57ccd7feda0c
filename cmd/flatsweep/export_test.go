package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// TestExportRoundTrip exports the planted sweep as CSV and as Parquet and
// reads both back (Parquet with the same library): the same columns in the
// same order, one row per trial, equal cells, nulls where values are missing.
func TestExportRoundTrip(t *testing.T) {
	db := writeDB(t, "planted", plantedTrials())
	dir := t.TempDir()
	csvPath, pqPath := filepath.Join(dir, "trials.csv"), filepath.Join(dir, "trials.parquet")
	if _, err := runCmd(t, "export", "planted", "--db", db, "--out", csvPath); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, "export", "planted", "--db", db, "--out", pqPath); err != nil { // format from the extension
		t.Fatal(err)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head, rows := recs[0], recs[1:]
	if len(rows) != 147 {
		t.Fatalf("%d csv rows, want 147", len(rows))
	}
	for _, c := range []string{"trial_id", "state", "status", "diverged", "seed", "batch_size", "lr", "n", "momentum", "g", "test_acc", "gap", "lambda_max", "sharp", "trace"} {
		if !slices.Contains(head, c) {
			t.Errorf("csv has no column %s: %v", c, head)
		}
	}
	col := func(name string) int { return slices.Index(head, name) }
	// The pending trial (last) has no result: empty metrics.
	last := rows[len(rows)-1]
	if last[col("state")] != "pending" || last[col("status")] != "unfinished" || last[col("test_acc")] != "" || last[col("sharp")] != "" {
		t.Errorf("pending row %v", last)
	}
	// The diverged trial has accuracies but no curvature.
	div := rows[len(rows)-3]
	if div[col("diverged")] != "true" || div[col("test_acc")] != "0.1" || div[col("lambda_max")] != "" {
		t.Errorf("diverged row %v", div)
	}
	if r := rows[0]; r[col("batch_size")] != "4" || r[col("lr")] != "0.01" || r[col("n")] != "1000" || r[col("seed")] != "1" || r[col("momentum")] != "0" {
		t.Errorf("first row %v", r)
	}

	b, err := os.ReadFile(pqPath)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if pf.NumRows() != 147 {
		t.Errorf("%d parquet rows", pf.NumRows())
	}
	var names []string
	for _, c := range pf.Schema().Columns() {
		names = append(names, c[0])
	}
	if !slices.Equal(names, head) {
		t.Fatalf("parquet columns %v\ncsv columns %v", names, head)
	}
	r := parquet.NewReader(pf)
	defer r.Close()
	buf := make([]parquet.Row, 200)
	n, _ := r.ReadRows(buf)
	if n != 147 {
		t.Fatalf("read %d parquet rows", n)
	}
	for i, row := range buf[:n] {
		for _, v := range row {
			if got, want := parquetCell(v), rows[i][v.Column()]; got != want {
				t.Errorf("row %d column %s: parquet %q, csv %q", i, head[v.Column()], got, want)
			}
		}
	}
}

// parquetCell formats a Parquet value as the CSV export does.
func parquetCell(v parquet.Value) string {
	if v.IsNull() {
		return ""
	}
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.FormatBool(v.Boolean())
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10)
	case parquet.Double:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64)
	}
	return v.String()
}

// TestExportFormatFromName: an --out whose extension names no format is a
// usage error that says what to give, and nothing is written.
func TestExportFormatFromName(t *testing.T) {
	db := writeDB(t, "planted", plantedTrials())
	out := filepath.Join(t.TempDir(), "t.xlsx")
	_, err := runCmd(t, "export", "planted", "--db", db, "--out", out)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--out "+out+": the format does not follow from the name: give a .csv or .parquet file, or --format csv|parquet") {
		t.Fatalf("export --out t.xlsx: %v (exit %d)", err, exitCode(err))
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a file was written: %v", err)
	}
	if _, err := runCmd(t, "export", "planted", "--db", db, "--out", out, "--format", "csv"); err != nil {
		t.Errorf("with --format csv: %v", err)
	}
}
