package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/coordinator"
	"github.com/flatsweep/flatsweep/coordinator/lease"
	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/sweeps"
)

const testSweep = `name: s
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid: {batch_size: [8, 16], lr: [0.1], seed: [1, 2]}
`

// serve returns a dashboard over a fresh coordinator with one sweep, one of
// whose trials has a result.
func serve(t *testing.T, sec coordinator.Security) (*httptest.Server, *coordinator.Coordinator) {
	srv, c, _ := serveDashboard(t, sec)
	return srv, c
}

// serveDashboard is serve that also returns the dashboard.
func serveDashboard(t *testing.T, sec coordinator.Security) (*httptest.Server, *coordinator.Coordinator, *Server) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.DiscardHandler)
	c, err := coordinator.New(st, coordinator.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sweeps.Parse([]byte(testSweep), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(s)
	ctx := context.Background()
	if _, err := c.SweepService().SubmitSweep(ctx, &pb.SubmitSweepRequest{SpecJson: string(js), SpecYaml: testSweep}); err != nil {
		t.Fatal(err)
	}
	core := c.Core()
	w, err := core.Register("w", 1, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := core.TryAcquire(w)
	if err != nil || l == nil {
		t.Fatalf("acquire: %v %v", l, err)
	}
	res := &pb.TrialResult{TrainAcc: 0.9, TestAcc: 0.8, TrainLoss: 0.3, TestLoss: 0.5, LambdaMax: 4.5, LambdaConverged: true,
		Curve: []*pb.EpochMetrics{{Epoch: 1, Step: 8, TrainLoss: 0.3, TrainAcc: 0.9, TestLoss: 0.5, TestAcc: 0.8}},
		Sharpness: []*pb.SharpnessPoint{{Step: 0, Lr: 0.1, LambdaMax: 2.5, StabilityLimit: 20, Hvps: 10},
			{Epoch: 1, Step: 8, Lr: 0.1, LambdaMax: 4.5, StabilityLimit: 20, Hvps: 3, LambdaConverged: true}},
		Landscape: &pb.Landscape{Kind: "2d", A: []float64{-1, 0, 1}, B: []float64{-1, 1}, TrainLoss: []float64{3, 1, 2, 4, 2, 3},
			TrainAcc: []float64{0.1, 0.9, 0.5, 0.1, 0.5, 0.4}, TestLoss: []float64{3, 1.2, 2, 4, 2, 3},
			TestAcc: []float64{0.1, 0.8, 0.5, 0.1, 0.5, 0.4}, Examples: 10, TestExamples: 12, Evaluations: 6}}
	if _, err := core.Complete(w, lease.Key{Sweep: l.SweepId, Trial: l.TrialId}, l.Token, res); err != nil {
		t.Fatal(err)
	}
	d, err := New(c, Options{Security: sec, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return srv, c, d
}

// TestSweepCache: the data of a sweep page is computed once while the sweep
// is unchanged, and again after a trial changed state once the recompute
// window has passed — with the new result in it.
func TestSweepCache(t *testing.T) {
	_, c, d := serveDashboard(t, coordinator.Security{})
	req := httptest.NewRequest("GET", "/sweeps/s", nil)
	a, err := d.sweep(req, "s")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := d.sweep(req, "s"); b != a {
		t.Fatal("an unchanged sweep was computed again")
	}
	// Asking for sweeps that do not exist leaves no entries behind.
	for i := range 3 {
		if _, err := d.sweep(req, fmt.Sprintf("nope-%d", i)); err == nil {
			t.Fatal("an unknown sweep has data")
		}
	}
	if n := len(d.cache.entries); n != 1 {
		t.Errorf("%d cache entries after asking for 3 unknown sweeps, want 1 (s)", n)
	}
	core := c.Core()
	w, _ := core.Register("w2", 1, nil, "")
	l, _, err := core.TryAcquire(w)
	if err != nil || l == nil {
		t.Fatal(err)
	}
	if _, err := core.Complete(w, lease.Key{Sweep: l.SweepId, Trial: l.TrialId}, l.Token, &pb.TrialResult{TrainAcc: 0.7, TestAcc: 0.6, LambdaMax: 2}); err != nil {
		t.Fatal(err)
	}
	if b, _ := d.sweep(req, "s"); b != a {
		t.Fatal("recomputed within the recompute window")
	}
	time.Sleep(minRecompute + 50*time.Millisecond)
	b, err := d.sweep(req, "s")
	if err != nil || b == a || b.version == a.version {
		t.Fatalf("not recomputed after a change and the window: %v", err)
	}
	ok := 0
	for _, r := range b.recs {
		if r.Result != nil {
			ok++
		}
	}
	if ok != 2 {
		t.Errorf("recomputed data has %d results, want 2", ok)
	}
}

// get fetches a path with optional headers and returns the status and body.
func get(t *testing.T, srv *httptest.Server, path string, header ...string) (int, string, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp
}

// TestPages: every page renders what its sweep holds, the figures are SVG,
// and bad requests get the status that says so.
func TestPages(t *testing.T) {
	srv, c := serve(t, coordinator.Security{})
	if code, body, _ := get(t, srv, "/static/../dashboard.go"); code == 200 || strings.Contains(body, "package dashboard") {
		t.Errorf("a path out of /static/ served a source file: %d", code)
	}
	code, body, _ := get(t, srv, "/")
	if code != 200 || !strings.Contains(body, `data-sweep="s"`) || !strings.Contains(body, "1/4") || !strings.Contains(body, "active") {
		t.Fatalf("sweeps page: %d\n%s", code, body)
	}
	code, body, _ = get(t, srv, "/sweeps/s?sort=test_acc&desc=1&by=batch_size")
	if code != 200 || !strings.Contains(body, "succeeded 1") || !strings.Contains(body, "pending 3") ||
		!strings.Contains(body, "batch_size  g") || !strings.Contains(body, "0.9000 ± 0.0000  0.8000 ± 0.0000") {
		t.Fatalf("sweep page: %d\n%s", code, body)
	}
	// The trial with a result sorts first by test accuracy, descending.
	first := strings.Index(body, "<tbody>\n<tr>")
	if first < 0 || !strings.Contains(body[first:first+400], "succeeded") {
		t.Errorf("sorted by test_acc desc, the first row is not the trial with a result:\n%s", body[first:min(len(body), first+400)])
	}
	// The direction of a sort: by expansion index, ascending and descending
	// put different trials first (the test accuracy above cannot show it:
	// one trial has a result, and missing values go last either way).
	firstRow := func(query string) string {
		_, b, _ := get(t, srv, "/sweeps/s?"+query)
		i := strings.Index(b, "<tbody>\n<tr>")
		if i < 0 {
			t.Fatalf("%s: no rows", query)
		}
		return b[i : i+min(300, len(b)-i)]
	}
	if asc, desc := firstRow("sort=index"), firstRow("sort=index&desc=1"); asc == desc {
		t.Errorf("sorting by index ascending and descending put the same trial first:\n%s", asc)
	}
	resp, err := c.SweepService().QueryResults(context.Background(), &pb.QueryResultsRequest{SweepId: "s", State: pb.TrialState_TRIAL_STATE_SUCCEEDED})
	if err != nil || len(resp.Trials) != 1 {
		t.Fatal(err)
	}
	id := resp.Trials[0].Id
	if !strings.Contains(body, "figures/sharpness.svg") {
		t.Errorf("sweep page of a sweep that tracks λ₁ has no λ₁-along-training figure")
	}
	code, body, _ = get(t, srv, "/sweeps/s/trials/"+id)
	if code != 200 || !strings.Contains(body, "batch_size=8") || !strings.Contains(body, "curve.svg") || !strings.Contains(html.UnescapeString(body), `"lr": 0.1`) ||
		!strings.Contains(body, "<td>succeeded</td>") {
		t.Fatalf("trial page: %d\n%s", code, body)
	}
	// λ₁ along training: the figure and a row per measurement with λ₁/limit.
	if !strings.Contains(body, "λ₁ along training") || !strings.Contains(body, "sharpness.svg") ||
		!strings.Contains(body, `<td class="n">4.5</td><td class="n">20</td><td class="n">0.225</td>`) {
		t.Errorf("trial page without λ₁ along training:\n%s", body)
	}
	if !strings.Contains(body, "Loss landscape") || !strings.Contains(body, "landscape/train-contour.svg") || !strings.Contains(body, "6 grid points, each over 10 training and 12 test") {
		t.Errorf("trial page without its loss landscape:\n%s", body)
	}
	for _, p := range []string{"/sweeps/s/figures/acc_vs_g.svg", "/sweeps/s/figures/heatmap_lambda_max.svg", "/sweeps/s/trials/" + id + "/curve.svg",
		"/sweeps/s/trials/" + id + "/sharpness.svg", "/sweeps/s/figures/sharpness.svg",
		"/sweeps/s/trials/" + id + "/landscape/loss.svg", "/sweeps/s/trials/" + id + "/landscape/test-contour.svg"} {
		code, body, resp := get(t, srv, p)
		if code != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, "<svg") {
			t.Errorf("%s: %d %s", p, code, resp.Header.Get("Content-Type"))
		}
	}
	code, body, _ = get(t, srv, "/workers")
	if code != 200 || !strings.Contains(body, "<td>w</td>") {
		t.Errorf("workers page: %d\n%s", code, body)
	}
	for path, want := range map[string]int{
		"/sweeps/nope":                               404,
		"/sweeps/s/trials/t-nope":                    404,
		"/sweeps/s/figures/nope.svg":                 404,
		"/sweeps/s/trials/t-nope/landscape/loss.svg": 404,
		"/sweeps/s?by=colour":                        400,
		"/sweeps/s?where=lr%3D0.3":                   400,
		"/static/dash.js":                            200,
	} {
		if code, _, _ := get(t, srv, path); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
}

// TestAuthentication: with tokens configured, the dashboard opens for the
// client and admin tokens (header or the cookie /login sets) and for
// nobody else; a browser without credentials is sent to /login, which
// sends it back only to a path of this site.
func TestAuthentication(t *testing.T) {
	sec := coordinator.Security{Token: "admin-tok", WorkerToken: "worker-tok", ClientToken: "client-tok"}
	srv, _ := serve(t, sec)
	if code, _, _ := get(t, srv, "/"); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", code)
	}
	if code, _, resp := get(t, srv, "/sweeps/s", "Accept", "text/html"); code != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fsweeps%2Fs" {
		t.Errorf("browser without credentials: %d → %q", code, resp.Header.Get("Location"))
	}
	if code, _, _ := get(t, srv, "/", "Authorization", "Bearer worker-tok"); code != http.StatusForbidden {
		t.Errorf("worker token: %d, want 403", code)
	}
	if code, _, _ := get(t, srv, "/", "Authorization", "Bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	for _, tok := range []string{"client-tok", "admin-tok"} {
		if code, _, _ := get(t, srv, "/sweeps/s", "Authorization", "Bearer "+tok); code != 200 {
			t.Errorf("%s: %d, want 200", tok, code)
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func(tok, next string) *http.Response {
		resp, err := client.PostForm(srv.URL+"/login", url.Values{"token": {tok}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := login("worker-tok", "/"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?failed=1") || len(resp.Cookies()) != 0 {
		t.Errorf("login with the worker token: %d → %q, cookies %v", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
	}
	resp := login("client-tok", "//evil.example/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(resp.Cookies()) != 1 || !resp.Cookies()[0].HttpOnly {
		t.Fatalf("login with the client token: %d → %q, cookies %v", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
	}
	if code, _, _ := get(t, srv, "/sweeps/s", "Cookie", cookieName+"="+resp.Cookies()[0].Value); code != 200 {
		t.Errorf("with the login cookie: %d", code)
	}
	if code, _, _ := get(t, srv, "/static/dash.css"); code != 200 {
		t.Errorf("static files need no token: %d", code)
	}
}
