package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumAptLine is how CI installs the browser the report test needs.
const chromiumAptLine = "apt-get update && apt-get install -y chromium"

// chromium returns the path of a Chromium binary, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skipf("chromium not found: the report is not checked in a browser (install it with: %s)", chromiumAptLine)
	return ""
}

// imageCheck is what the injected script reports about the page's images.
type imageCheck struct {
	Images int `json:"images"`
	Loaded int `json:"loaded"`
}

var checkAttr = regexp.MustCompile(`data-check="([^"]*)"`)

// loadInChromium copies the HTML file alone to a fresh directory (so that
// only what is embedded can load), adds a script that records on load how
// many images there are and how many decoded, opens it in headless Chromium
// and returns that record.
func loadInChromium(t *testing.T, bin, htmlPath string) imageCheck {
	t.Helper()
	b, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	const script = `<script>window.addEventListener("load", function () {
  var im = Array.from(document.images);
  document.body.setAttribute("data-check", JSON.stringify({images: im.length,
    loaded: im.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length}));
});</script></body>`
	page := strings.Replace(string(b), "</body>", script, 1)
	dir := t.TempDir()
	copyPath := filepath.Join(dir, "copied-report.html")
	if err := os.WriteFile(copyPath, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--virtual-time-budget=10000",
		"--dump-dom", "file://"+copyPath)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("chromium: %v\n%s", err, stderr)
	}
	m := checkAttr.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("chromium: no data-check attribute in the dumped DOM (%d bytes)", len(out))
	}
	var c imageCheck
	if err := json.Unmarshal([]byte(strings.ReplaceAll(m[1], "&quot;", `"`)), &c); err != nil {
		t.Fatalf("data-check %q: %v", m[1], err)
	}
	return c
}

// reportFiles runs `report` on db and returns the output directory.
func runReport(t *testing.T, sweep, db string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report")
	stdout, err := runCmd(t, "report", sweep, "--db", db, "--out", out)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if !strings.Contains(stdout, "report.html") {
		t.Errorf("stdout %q", stdout)
	}
	return out
}

var imgTag = regexp.MustCompile(`<img src="data:image/png;base64,`)

// TestReportRenders writes the planted sweep's report and checks the files
// and, in headless Chromium, that every embedded figure of the HTML copied
// alone loads.
func TestReportRenders(t *testing.T) {
	db := writeDB(t, "planted", plantedTrials())
	dir := runReport(t, "planted", db)
	// acc_vs_g, two heat maps, B_opt against ε and N, three measures
	// (lambda_max, sharp, trace) against B and against the gap, and two
	// training-curve figures; no spectral densities.
	figures := []string{"acc_vs_g", "heatmap_test_acc", "heatmap_lambda_max", "bopt_vs_lr", "bopt_vs_n", "lambda_vs_b",
		"measure_sharp_vs_b", "measure_trace_vs_b", "measure_lambda_max_vs_gap",
		"measure_sharp_vs_gap", "measure_trace_vs_gap", "curves_test_acc", "curves_train_loss"}
	for _, f := range figures {
		for _, ext := range []string{".png", ".svg"} {
			if st, err := os.Stat(filepath.Join(dir, f+ext)); err != nil || st.Size() == 0 {
				t.Errorf("%s%s: %v", f, ext, err)
			}
		}
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(imgTag.FindAllIndex(html, -1)); n != len(figures) {
		t.Errorf("%d embedded images, want %d", n, len(figures))
	}
	for _, want := range []string{"No Hessian spectral densities were computed", "Optimal batch size", "Kendall", "1 diverged"} {
		if !strings.Contains(string(html), want) || !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if !strings.Contains(string(md), "![") || !strings.Contains(string(md), "(acc_vs_g.png)") {
		t.Error("markdown has no figure links")
	}
	c := loadInChromium(t, chromium(t), filepath.Join(dir, "report.html"))
	if c.Images != len(figures) || c.Loaded != c.Images {
		t.Errorf("chromium: %d of %d images loaded, want %d", c.Loaded, c.Images, len(figures))
	}
}

// TestReportDegenerate: degenerate sweeps give a report that says what is
// missing, whose figures (placeholders saying so) all load.
func TestReportDegenerate(t *testing.T) {
	var bin string
	for name, c := range degenerateSweeps() {
		t.Run(name, func(t *testing.T) {
			dir := runReport(t, name, writeDB(t, name, c.trials))
			html, err := os.ReadFile(filepath.Join(dir, "report.html"))
			if err != nil {
				t.Fatal(err)
			}
			md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
			if !strings.Contains(string(html), c.note) || !strings.Contains(string(md), c.note) {
				t.Errorf("report does not say %q", c.note)
			}
			if name != "diverged" && name != "empty" {
				return
			}
			if bin == "" {
				bin = chromium(t)
			}
			want := len(imgTag.FindAllIndex(html, -1))
			if got := loadInChromium(t, bin, filepath.Join(dir, "report.html")); got.Images != want || got.Loaded != want || want < 5 {
				t.Errorf("chromium: %+v, want %d images loaded", got, want)
			}
		})
	}
}
