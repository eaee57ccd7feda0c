package coordinator

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// Session serves a worker's calls over one stream: each request runs in a
// goroutine of its own with the unary handler's semantics, and its reply is
// sent when it finishes. When the stream ends, calls still waiting (long-poll
// acquires) are cancelled; calls already writing (a result being made
// durable) finish, so a result sent before a disconnect is still recorded
// and its retry is acknowledged as a duplicate.
func (s *workerServer) Session(stream pb.WorkerService_SessionServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	ss := &session{w: s, stream: stream, calls: map[uint64]context.CancelFunc{}, bound: map[string]bool{}}
	// On the way out, calls still waiting are cancelled first, then waited
	// for: a reply must not be sent after Session returns, nor a notice.
	defer ss.close()
	defer ss.wg.Wait()
	defer cancel()
	defer s.c.sessions.unbind(ss)
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if req.GetCancel() != nil {
			ss.cancel(req.CallId)
			continue
		}
		if ss.acquireNow(req) {
			continue
		}
		cctx, ccancel := context.WithCancel(ctx)
		if !ss.begin(req.CallId, ccancel) {
			ccancel()
			return status.Errorf(codes.InvalidArgument, "session: call ID %d is already in flight", req.CallId)
		}
		ss.wg.Add(1)
		go func() {
			defer ss.wg.Done()
			defer ss.end(req.CallId)
			ss.reply(cctx, req)
		}()
	}
}

// session is the server side of one worker session.
type session struct {
	w      *workerServer
	stream pb.WorkerService_SessionServer
	wg     sync.WaitGroup

	sendMu sync.Mutex // a gRPC stream's Send is not safe for concurrent use
	closed bool       // Session returned: nothing may be sent (guarded by sendMu)

	mu    sync.Mutex
	calls map[uint64]context.CancelFunc // calls in flight, by ID
	bound map[string]bool               // worker IDs whose notices come here
}

// bind routes a worker's notices to this stream, taking the registry's lock
// only the first time the stream serves that worker: calls of the lease
// path pay one map lookup under the session's own lock.
func (ss *session) bind(worker string) {
	ss.mu.Lock()
	seen := ss.bound[worker]
	ss.bound[worker] = true
	ss.mu.Unlock()
	if !seen {
		ss.w.c.sessions.bind(worker, ss)
	}
}

// begin registers a call in flight; false if its ID is in use.
func (ss *session) begin(id uint64, cancel context.CancelFunc) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, dup := ss.calls[id]; dup {
		return false
	}
	ss.calls[id] = cancel
	return true
}

// end unregisters a finished call and releases its context.
func (ss *session) end(id uint64) {
	ss.mu.Lock()
	cancel := ss.calls[id]
	delete(ss.calls, id)
	ss.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// cancel abandons a call in flight, if it still is.
func (ss *session) cancel(id uint64) {
	ss.mu.Lock()
	cancel := ss.calls[id]
	ss.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// acquireNow answers an acquire call on the receiving goroutine when it can
// be answered at once — a lease, or an error — and reports whether it did.
// Only a call that has to wait for a pending trial gets a goroutine of its
// own: the common case skips a goroutine hand-off on the lease's path.
func (ss *session) acquireNow(req *pb.SessionRequest) bool {
	acq := req.GetAcquire()
	if acq == nil {
		return false
	}
	err := ss.w.owned(ss.stream.Context(), acq.WorkerId)
	var l *pb.Lease
	if err == nil {
		ss.bind(acq.WorkerId)
		l, _, err = ss.w.c.core.TryAcquireSlots(acq.WorkerId, acq.FreeSlots)
		if l == nil && err == nil {
			return false
		}
	}
	resp := &pb.SessionResponse{CallId: req.CallId}
	if err != nil {
		setStatus(resp, statusOf(err))
	} else {
		resp.Reply = &pb.SessionResponse_Acquire{Acquire: &pb.AcquireTrialResponse{Lease: l}}
	}
	ss.send(resp, l)
	return true
}

// close marks the stream finished: later sends are dropped.
func (ss *session) close() {
	ss.sendMu.Lock()
	ss.closed = true
	ss.sendMu.Unlock()
}

// send sends a reply; a lease in it that cannot be delivered is handed back.
func (ss *session) send(resp *pb.SessionResponse, lease *pb.Lease) {
	ss.sendMu.Lock()
	err := io.ErrClosedPipe
	if !ss.closed {
		err = ss.stream.Send(resp)
	}
	ss.sendMu.Unlock()
	if err != nil && lease != nil {
		ss.w.c.core.HandBack(lease)
	}
}

// reply runs one call and sends its reply. A lease whose reply cannot be
// sent is handed back at once rather than left to expire.
func (ss *session) reply(ctx context.Context, req *pb.SessionRequest) {
	resp := ss.call(ctx, req)
	resp.CallId = req.CallId
	if ctx.Err() != nil && resp.Code == uint32(codes.Canceled) {
		return // a cancelled call gets no reply
	}
	ss.send(resp, resp.GetAcquire().GetLease())
}

// call dispatches one request to its unary handler (workerServer), which
// translates it for the core.
func (ss *session) call(ctx context.Context, req *pb.SessionRequest) *pb.SessionResponse {
	s := ss.w
	var (
		resp = &pb.SessionResponse{}
		err  error
	)
	switch c := req.Call.(type) {
	case *pb.SessionRequest_Acquire:
		var r *pb.AcquireTrialResponse
		if r, err = s.AcquireTrial(ctx, c.Acquire); err == nil {
			resp.Reply = &pb.SessionResponse_Acquire{Acquire: r}
		}
	case *pb.SessionRequest_Heartbeat:
		var r *pb.HeartbeatResponse
		if r, err = s.Heartbeat(ctx, c.Heartbeat); err == nil {
			resp.Reply = &pb.SessionResponse_Heartbeat{Heartbeat: r}
		}
	case *pb.SessionRequest_Complete:
		var r *pb.CompleteTrialResponse
		if r, err = s.CompleteTrial(ctx, c.Complete); err == nil {
			resp.Reply = &pb.SessionResponse_Complete{Complete: r}
		}
	case *pb.SessionRequest_Fail:
		var r *pb.FailTrialResponse
		if r, err = s.FailTrial(ctx, c.Fail); err == nil {
			resp.Reply = &pb.SessionResponse_Fail{Fail: r}
		}
	case *pb.SessionRequest_Release:
		var r *pb.ReleaseTrialResponse
		if r, err = s.ReleaseTrial(ctx, c.Release); err == nil {
			resp.Reply = &pb.SessionResponse_Release{Release: r}
		}
	default:
		err = status.Error(codes.InvalidArgument, "session: request names no call")
	}
	if err != nil {
		setStatus(resp, err)
	} else if id := workerOf(req); id != "" {
		// The call passed the owner check: notices for this worker's
		// leases go to this stream.
		ss.bind(id)
	}
	return resp
}

// workerOf returns the worker ID a session call names.
func workerOf(req *pb.SessionRequest) string {
	switch c := req.Call.(type) {
	case *pb.SessionRequest_Acquire:
		return c.Acquire.GetWorkerId()
	case *pb.SessionRequest_Heartbeat:
		return c.Heartbeat.GetWorkerId()
	case *pb.SessionRequest_Complete:
		return c.Complete.GetWorkerId()
	case *pb.SessionRequest_Fail:
		return c.Fail.GetWorkerId()
	case *pb.SessionRequest_Release:
		return c.Release.GetWorkerId()
	}
	return ""
}

// sessions maps worker IDs to the session stream their latest call came
// over, for the notices the coordinator sends unasked (revoked leases).
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
}

func newSessions() *sessions { return &sessions{byID: map[string]*session{}} }

// bind routes a worker's notices to ss.
func (r *sessions) bind(worker string, ss *session) {
	r.mu.Lock()
	r.byID[worker] = ss
	r.mu.Unlock()
}

// unbind forgets a session that ended.
func (r *sessions) unbind(ss *session) {
	r.mu.Lock()
	for id, s := range r.byID {
		if s == ss {
			delete(r.byID, id)
		}
	}
	r.mu.Unlock()
}

// revoke tells a worker, if it has a session, that leases it holds ended
// (lease.Config.Revoked). The notice is sent from a goroutine of its own: a
// slow stream does not hold up the cancellation, and a notice that does not
// arrive leaves the worker to learn it at its next heartbeat.
func (r *sessions) revoke(worker string, leases []*pb.RevokedLease) {
	r.mu.Lock()
	ss := r.byID[worker]
	r.mu.Unlock()
	if ss == nil {
		return
	}
	resp := &pb.SessionResponse{Reply: &pb.SessionResponse_Revoked{Revoked: &pb.LeasesRevoked{Leases: leases}}}
	go ss.send(resp, nil)
}

// setStatus puts the gRPC status of a call's error in its reply.
func setStatus(resp *pb.SessionResponse, err error) {
	st := status.Convert(err)
	resp.Code, resp.Message = uint32(st.Code()), st.Message()
}
