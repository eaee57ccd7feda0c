package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// artifactDir is where the dashboard test keeps its screenshots (a
// .gitignore'd directory CI keeps as the test's artifact).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FLATSWEEP_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", ".artifacts")
	}
	dir = filepath.Join(dir, "dashboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is a headless Chromium that records console errors, uncaught
// exceptions and the browser's own error log (failed loads, CSP
// violations).
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900), chromedp.Flag("disable-quic", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	b := &browser{ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value))
				}
				msg = fmt.Sprintf("console.%s: %s", e.Type, strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
				msg = fmt.Sprintf("log %s (%s): %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	for _, enable := range []cdp.Command[cdp.Empty, cdp.Empty]{cdplog.Enable, runtime.Enable} {
		if _, err := chromedp.Call(ctx, enable, cdp.Empty{}); err != nil {
			t.Fatalf("starting chromium: %v", err)
		}
	}
	return b
}

// visit opens a page, waits for sel, saves a screenshot and reports any
// error the page raised.
func (b *browser) visit(t *testing.T, url, sel, shot string) {
	t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("%s: screenshot: %v", url, err)
	}
	path := filepath.Join(artifactDir(t), shot)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: screenshot %s (%d bytes)", url, path, len(png))
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		t.Errorf("%s: %s", url, e)
	}
	b.errors = nil
}

// text returns the text of the first element matching sel, read in one
// script evaluation: the page's own updates replace nodes while it runs,
// so a query by node ID could find its node gone.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	js, _ := json.Marshal(sel)
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%s) || {textContent: ""}).textContent`, js)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// dashboardSweep has 8 trials of about a second each, so that a worker's
// progress is seen on screen between the page's updates (every 2 s).
const dashboardSweep = `name: e2e
dataset: {name: synthetic, n: 4096, n_test: 256, label_noise: 0.1, seed: 3}
model: {arch: mlp, hidden: [32, 32]}
train: {epochs: 40}
curvature: {examples: 256, lanczos_steps: 10}
grid: {batch_size: [16, 64], lr: [0.05, 0.1], seed: [1, 2]}
`

// TestDashboardInABrowser serves the dashboard from a coordinator process
// and opens its pages in headless Chromium: each loads without a console
// error, an exception or a failed load; a running sweep's progress advances
// on screen without a reload; a screenshot of each page is kept (see
// artifactDir).
func TestDashboardInABrowser(t *testing.T) {
	b := newBrowser(t)
	dir := t.TempDir()
	coord, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "", "--http", "127.0.0.1:0")
	web := "http://" + coord.waitLog(t, "dashboard listening", 20*time.Second)["addr"].(string)
	if _, errs, code := runCLI(t, "submit", writeSweep(t, dashboardSweep), "--coordinator", addr); code != 0 {
		t.Fatal(errs)
	}
	runCLI(t, "pause", "e2e", "--coordinator", addr)

	b.visit(t, web+"/", `tr[data-sweep="e2e"]`, "sweeps.png")
	if got := b.text(t, `tr[data-sweep="e2e"] .state`); got != "paused" {
		t.Errorf("sweeps page shows the sweep %q, want paused", got)
	}
	b.visit(t, web+"/sweeps/e2e", "#summary .progress-count", "sweep-paused.png")
	if got := b.text(t, "#summary .progress-count"); got != "0/8" {
		t.Fatalf("progress before any worker: %q", got)
	}

	// A worker runs the sweep while the page stays open: the progress
	// advances on screen, through the page's own updates.
	runCLI(t, "resume", "e2e", "--coordinator", addr)
	start(t, "worker", "--coordinator", addr, "--name", "w")
	deadline := time.Now().Add(2 * time.Minute)
	var seen []string
	for time.Now().Before(deadline) {
		got := b.text(t, "#summary .progress-count")
		if len(seen) == 0 || seen[len(seen)-1] != got {
			seen = append(seen, got)
		}
		if got == "8/8" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(seen) < 3 || seen[len(seen)-1] != "8/8" {
		t.Fatalf("progress on screen went %v, want it to advance from 0/8 to 8/8 through intermediate counts", seen)
	}
	t.Logf("progress seen on screen: %v", seen)
	// The figures follow the results: once the page has the final counts,
	// every figure loads (each is drawn from the trials when asked for).
	figures, err := 0, error(nil)
	for deadline := time.Now().Add(30 * time.Second); figures != 6 && time.Now().Before(deadline); {
		if figures, err = chromedp.Run(b.ctx, chromedp.Evaluate[int](
			`Array.from(document.querySelectorAll("#figures img")).filter(i => i.complete && i.naturalWidth > 0).length`)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if figures != 6 {
		t.Errorf("%d of 6 figures loaded", figures)
	}
	b.visit(t, web+"/sweeps/e2e", "#trials table", "sweep-done.png")
	if got := b.text(t, "#summary .state"); got != "done" {
		t.Errorf("finished sweep shows %q", got)
	}
	href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#trials tbody a").getAttribute("href")`))
	if err != nil || href == "" {
		t.Fatalf("trial link: %q, %v", href, err)
	}
	b.visit(t, web+href, "#trial table.kv", "trial.png")
	if got := b.text(t, "#trial .st-succeeded"); got != "succeeded" {
		t.Errorf("trial page state %q", got)
	}
	b.visit(t, web+"/sweeps/e2e?sort=test_acc&desc=1&by=batch_size", "#trials table", "sweep-sorted.png")
	b.visit(t, web+"/workers", "#workers table", "workers.png")
	if got := b.text(t, "#workers tbody td:nth-child(2)"); got != "w" {
		t.Errorf("workers page lists %q, want the worker named w", got)
	}
}
