package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flatsweep/flatsweep/coordinator"
	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

const oneTrial = `name: w
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid: {batch_size: [8], lr: [0.1], seed: [1]}
`

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a coordinator served on a real loopback socket.
type env struct {
	addr   string
	st     *store.Store
	sweeps pb.SweepServiceClient
}

func setup(t *testing.T, ttl time.Duration) *env {
	t.Helper()
	return serve(t, coordinator.Config{LeaseTTL: ttl, RescueInterval: 20 * time.Millisecond, Logger: quiet})
}

// serve serves a coordinator with the given configuration on a loopback
// socket.
func serve(t *testing.T, cfg coordinator.Config) *env {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := coordinator.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Serve(ctx, lis) }()
	e := &env{addr: lis.Addr().String(), st: st}
	e.sweeps = pb.NewSweepServiceClient(dialT(t, e.addr))
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	return e
}

func dialT(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (e *env) submit(t *testing.T) {
	t.Helper()
	if _, err := e.sweeps.SubmitSweep(context.Background(), submitRequest(t, oneTrial)); err != nil {
		t.Fatal(err)
	}
}

// submitRequest parses a sweep file as the client does and returns the
// request that submits it (the coordinator takes the sweep as JSON).
func submitRequest(t *testing.T, yaml string) *pb.SubmitSweepRequest {
	t.Helper()
	s, err := sweeps.Parse([]byte(yaml), "")
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return &pb.SubmitSweepRequest{SpecJson: string(js), SpecYaml: yaml}
}

// trial returns the sweep's only trial.
func (e *env) trial(t *testing.T) *pb.Trial {
	t.Helper()
	resp, err := e.sweeps.QueryResults(context.Background(), &pb.QueryResultsRequest{SweepId: "w"})
	if err != nil || len(resp.Trials) != 1 {
		t.Fatalf("query: %v, %d trials", err, len(resp.GetTrials()))
	}
	return resp.Trials[0]
}

// waitState polls until the trial is in state st.
func (e *env) waitState(t *testing.T, st pb.TrialState) *pb.Trial {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if tr := e.trial(t); tr.State == st {
			return tr
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("trial never reached %v; last %v", st, e.trial(t).State)
	return nil
}

// gate is a fake trial: it signals when it starts and returns acc when
// released, or the context's error when cancelled first.
type gate struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
	acc     float64
	cause   chan error
}

func newGate(acc float64) *gate {
	return &gate{started: make(chan struct{}), release: make(chan struct{}), acc: acc, cause: make(chan error, 1)}
}

func (g *gate) run(ctx context.Context, _ spec.Trial, progress func(spec.EpochMetrics)) (spec.Result, error) {
	g.once.Do(func() { close(g.started) })
	progress(spec.EpochMetrics{Epoch: 1, TestAcc: g.acc / 2})
	select {
	case <-g.release:
		return spec.Result{TestAcc: g.acc, Curve: []spec.EpochMetrics{{Epoch: 1, TestAcc: g.acc}}}, nil
	case <-ctx.Done():
		g.cause <- ctx.Err()
		return spec.Result{}, ctx.Err()
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func startWorker(t *testing.T, addr string, g *gate, drain time.Duration) (context.CancelFunc, <-chan error) {
	t.Helper()
	return startWorkerLog(t, addr, g, drain, quiet)
}

// startWorkerLog is startWorker with the worker's logger.
func startWorkerLog(t *testing.T, addr string, g *gate, drain time.Duration, log *slog.Logger) (context.CancelFunc, <-chan error) {
	t.Helper()
	w := New(dialT(t, addr), Config{Name: "t", Run: g.run, AcquireWait: 200 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, DrainTimeout: drain, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	exited := make(chan struct{})
	go func() { errc <- w.Run(ctx); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })
	return cancel, errc
}

func TestDrainFinishesRunningTrial(t *testing.T) {
	e := setup(t, 2*time.Second)
	g := newGate(0.8)
	stop, errc := startWorker(t, e.addr, g, 20*time.Second)
	e.submit(t)
	waitClosed(t, g.started, "trial start")
	stop() // SIGTERM: the running trial may finish
	close(g.release)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("worker did not exit after draining")
	}
	tr := e.waitState(t, pb.TrialState_TRIAL_STATE_SUCCEEDED)
	if tr.Result.TestAcc != 0.8 || tr.Attempt != 1 {
		t.Fatalf("trial %v", tr)
	}
}

func TestDrainTimeoutHandsTrialBack(t *testing.T) {
	e := setup(t, 2*time.Second)
	g := newGate(0.8)
	stop, errc := startWorker(t, e.addr, g, 0)
	e.submit(t)
	waitClosed(t, g.started, "trial start")
	stop()
	if err := <-errc; err != nil {
		t.Fatalf("Run = %v", err)
	}
	tr := e.waitState(t, pb.TrialState_TRIAL_STATE_PENDING)
	if tr.Attempt != 0 {
		t.Fatalf("handed-back trial counts %d attempts, want 0", tr.Attempt)
	}
	g2 := newGate(0.9)
	close(g2.release)
	startWorker(t, e.addr, g2, 0)
	if tr := e.waitState(t, pb.TrialState_TRIAL_STATE_SUCCEEDED); tr.Result.TestAcc != 0.9 || tr.Attempt != 1 {
		t.Fatalf("after hand-back: %v", tr)
	}
}

// cancelRunning submits the sweep, cancels it once its trial runs under a
// worker already started with g, and waits for the trial to be stopped.
func cancelRunning(t *testing.T, e *env, g *gate) {
	t.Helper()
	e.submit(t)
	waitClosed(t, g.started, "trial start")
	if _, err := e.sweeps.CancelSweep(context.Background(), &pb.CancelSweepRequest{SweepId: "w"}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-g.cause:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("trial stopped with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the running trial was not stopped after its sweep was cancelled")
	}
}

func TestCancelSweepStopsRunningTrial(t *testing.T) {
	e := setup(t, 300*time.Millisecond)
	g := newGate(0.8)
	startWorker(t, e.addr, g, 0)
	cancelRunning(t, e, g)
	if tr := e.trial(t); tr.State != pb.TrialState_TRIAL_STATE_CANCELLED || tr.Result != nil {
		t.Fatalf("trial %v", tr)
	}
}

func TestPauseAndResume(t *testing.T) {
	e := setup(t, 2*time.Second)
	if _, err := e.sweeps.SubmitSweep(context.Background(), submitRequest(t, oneTrial)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sweeps.PauseSweep(context.Background(), &pb.PauseSweepRequest{SweepId: "w"}); err != nil {
		t.Fatal(err)
	}
	g := newGate(0.7)
	close(g.release)
	startWorker(t, e.addr, g, 0)
	select {
	case <-g.started:
		t.Fatal("a paused sweep's trial was leased")
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := e.sweeps.ResumeSweep(context.Background(), &pb.ResumeSweepRequest{SweepId: "w"}); err != nil {
		t.Fatal(err)
	}
	e.waitState(t, pb.TrialState_TRIAL_STATE_SUCCEEDED)
}

// proxy forwards TCP connections to a target until cut.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	lis    net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = lis.Addr().String()
	p.serve(lis)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(lis net.Listener) {
	p.mu.Lock()
	p.lis = lis
	p.mu.Unlock()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
}

// cut drops every connection and stops accepting new ones.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lis != nil {
		p.lis.Close()
		p.lis = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore accepts connections again on the same address.
func (p *proxy) restore() {
	lis, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(lis)
}

func TestCutOffWorkerCannotRecordLateResult(t *testing.T) {
	e := setup(t, 500*time.Millisecond)
	px := newProxy(t, e.addr)
	late := newGate(0.1)
	var lateLog syncBuffer
	startWorkerLog(t, px.addr, late, 0, slog.New(slog.NewTextHandler(&lateLog, nil)))
	e.submit(t)
	waitClosed(t, late.started, "first worker's trial")
	px.cut()
	// The lease expires; another worker runs the trial and records it.
	e.waitState(t, pb.TrialState_TRIAL_STATE_PENDING)
	good := newGate(0.9)
	close(good.release)
	startWorker(t, e.addr, good, 0)
	tr := e.waitState(t, pb.TrialState_TRIAL_STATE_SUCCEEDED)
	if tr.Attempt != 2 || tr.Result.TestAcc != 0.9 {
		t.Fatalf("re-leased trial: %v", tr)
	}
	// The cut-off worker finishes and reports once it can reach the
	// coordinator again; its result must not replace the recorded one.
	close(late.release)
	px.restore()
	// The late worker must have reached the coordinator and been refused:
	// its report rejected, or its lease found lost at a heartbeat first.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(lateLog.String(), "result rejected") && !strings.Contains(lateLog.String(), "lease lost") {
		if time.Now().After(deadline) {
			t.Fatalf("the cut-off worker never heard back from the coordinator; its log:\n%s", lateLog.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if tr := e.trial(t); tr.Result.TestAcc != 0.9 || tr.Attempt != 2 || tr.State != pb.TrialState_TRIAL_STATE_SUCCEEDED {
		t.Fatalf("late result changed the trial: %v", tr)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestCancelStopsTrialAtOnce: cancelling a sweep stops its running trial
// through the coordinator's notice on the session stream, long before the
// next heartbeat (an hour away here), and the worker logs the deliberate
// stop as such, with no error.
func TestCancelStopsTrialAtOnce(t *testing.T) {
	e := setup(t, 3*time.Hour) // heartbeats every hour
	g := newGate(0.8)
	var logs syncBuffer
	startWorkerLog(t, e.addr, g, 0, slog.New(slog.NewJSONHandler(&logs, nil)))
	cancelRunning(t, e, g)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "trial stopped: "+wire.CancelledReason) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, `"level":"INFO","msg":"trial stopped: `+wire.CancelledReason) {
		t.Errorf("no info log of the deliberate stop:\n%s", out)
	}
	if strings.Contains(out, `"level":"ERROR"`) {
		t.Errorf("a cancel logged as an error:\n%s", out)
	}
	if tr := e.trial(t); tr.State != pb.TrialState_TRIAL_STATE_CANCELLED {
		t.Errorf("trial %v after cancel", tr.State)
	}
}
