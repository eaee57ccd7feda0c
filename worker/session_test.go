package worker

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// sessionFor registers a worker over conn and returns its ID and a session.
func sessionFor(t *testing.T, conn *grpc.ClientConn) (string, *Session) {
	t.Helper()
	client := pb.NewWorkerServiceClient(conn)
	reg, err := client.RegisterWorker(context.Background(), &pb.RegisterWorkerRequest{Name: "s", Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession(context.Background(), client, quiet)
	t.Cleanup(s.Close)
	return reg.WorkerId, s
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSessionCancelledAcquireLeasesNothing checks that a long-polling
// acquire abandoned by its caller is cancelled on the coordinator: a trial
// submitted afterwards is not leased to it.
func TestSessionCancelledAcquireLeasesNothing(t *testing.T) {
	e := setup(t, 2*time.Second)
	id, s := sessionFor(t, dialT(t, e.addr))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.AcquireTrial(ctx, &pb.AcquireTrialRequest{WorkerId: id, Wait: durationpb.New(20 * time.Second)})
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond) // the call reaches the coordinator and waits
	cancel()
	if err := <-errc; status.Code(err) != codes.Canceled {
		t.Fatalf("abandoned acquire returned %v, want Canceled", err)
	}
	e.submit(t)
	time.Sleep(300 * time.Millisecond)
	// A lease would have named the worker, even if handed back since.
	if tr := e.trial(t); tr.State != pb.TrialState_TRIAL_STATE_PENDING || tr.WorkerId != "" || tr.Attempt != 0 {
		t.Fatalf("trial after an abandoned acquire: %v", tr)
	}
}

// gatedStream holds each received message until its gate lets it through.
type gatedStream struct {
	grpc.ClientStream
	gate *sync.RWMutex
}

func (g gatedStream) RecvMsg(m any) error {
	err := g.ClientStream.RecvMsg(m)
	g.gate.RLock()
	defer g.gate.RUnlock() // held only to wait for the gate
	return err
}

// TestSessionHandsBackLeaseOfAbandonedCall checks that a lease arriving for
// a call its caller has given up on is handed back at once (attempt not
// counted) rather than left to expire.
func TestSessionHandsBackLeaseOfAbandonedCall(t *testing.T) {
	e := setup(t, 30*time.Second) // expiry would take 30 s: the test must not wait for it
	var gate sync.RWMutex
	conn, err := grpc.NewClient(e.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			s, err := streamer(ctx, desc, cc, method, opts...)
			return gatedStream{s, &gate}, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	id, s := sessionFor(t, conn)
	e.submit(t)
	gate.Lock() // replies are held back from here on
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.AcquireTrial(ctx, &pb.AcquireTrialRequest{WorkerId: id, Wait: durationpb.New(0)})
		errc <- err
	}()
	waitFor(t, "the lease to be granted", func() bool { return e.trial(t).State == pb.TrialState_TRIAL_STATE_RUNNING })
	cancel()
	if err := <-errc; status.Code(err) != codes.Canceled {
		t.Fatalf("abandoned acquire returned %v, want Canceled", err)
	}
	gate.Unlock() // the lease's reply arrives, for nobody
	waitFor(t, "the lease to be handed back", func() bool { return e.trial(t).State == pb.TrialState_TRIAL_STATE_PENDING })
	if tr := e.trial(t); tr.Attempt != 0 || tr.LeaseToken != "" {
		t.Fatalf("handed-back trial: %v", tr)
	}
}

// TestSessionReconnectsAfterStreamBreak checks that a call in flight when
// the connection drops fails with Unavailable (which workers retry) and
// that the next call opens a new stream.
func TestSessionReconnectsAfterStreamBreak(t *testing.T) {
	e := setup(t, 2*time.Second)
	px := newProxy(t, e.addr)
	id, s := sessionFor(t, dialT(t, px.addr))
	errc := make(chan error, 1)
	go func() {
		_, err := s.AcquireTrial(context.Background(), &pb.AcquireTrialRequest{WorkerId: id, Wait: durationpb.New(20 * time.Second)})
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	px.cut()
	select {
	case err := <-errc:
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("call in flight at the break returned %v, want Unavailable", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("call in flight at the break never returned")
	}
	px.restore()
	e.submit(t)
	var l *pb.Lease
	waitFor(t, "a lease over a new stream", func() bool {
		resp, err := s.AcquireTrial(context.Background(), &pb.AcquireTrialRequest{WorkerId: id, Wait: durationpb.New(time.Second)})
		if err != nil {
			return false // the connection is still coming back
		}
		l = resp.Lease
		return l != nil
	})
	if _, err := s.CompleteTrial(context.Background(), &pb.CompleteTrialRequest{WorkerId: id, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token, Result: &pb.TrialResult{TestAcc: 0.5}}); err != nil {
		t.Fatalf("complete over the new stream: %v", err)
	}
	if tr := e.trial(t); tr.State != pb.TrialState_TRIAL_STATE_SUCCEEDED {
		t.Fatalf("trial %v", tr)
	}
}
