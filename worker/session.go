package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// Session is a client of WorkerService.Session: it multiplexes a worker's
// AcquireTrial, Heartbeat, CompleteTrial, FailTrial and ReleaseTrial calls
// over one stream, opened on the first call and again after it breaks. It is
// safe for concurrent use; every slot of a worker shares one. A call that is
// in flight when the stream breaks fails with codes.Unavailable, which the
// worker retries like any transient error; the coordinator hands back a
// lease it could not deliver, and the worker hands back one that arrives for
// a call it stopped waiting for.
type Session struct {
	client pb.WorkerServiceClient
	log    *slog.Logger
	ctx    context.Context // the lifetime of every stream

	mu     sync.Mutex
	cur    *stream // nil until opened, and after it breaks
	nextID uint64
	closed bool
	// workerID is the worker ID of the latest acquire: the holder of a
	// lease that arrives after its call was abandoned.
	workerID string
	streams  sync.WaitGroup
	// onRevoke hears of the leases the coordinator ended (see OnRevoke).
	onRevoke func(*pb.RevokedLease)
}

// stream is one open Session stream and its calls in flight.
type stream struct {
	s      pb.WorkerService_SessionClient
	cancel context.CancelFunc
	sendMu sync.Mutex
	// pending maps call IDs to their reply channels (guarded by the
	// Session's mu); a broken stream closes them all and sets it to nil.
	pending map[uint64]chan *pb.SessionResponse
}

var (
	// errSessionClosed is returned for calls made after Close.
	errSessionClosed = status.Error(codes.Canceled, "worker session closed")
	// errBroke is returned for calls in flight when their stream broke.
	errBroke = status.Error(codes.Unavailable, "worker session stream broke")
)

// NewSession returns a session over client. Its streams live until ctx ends
// or Close is called; a nil log discards the session's logs.
func NewSession(ctx context.Context, client pb.WorkerServiceClient, log *slog.Logger) *Session {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Session{client: client, log: log, ctx: ctx}
}

// OnRevoke sets the function told of each lease the coordinator ends before
// its trial finished (a cancelled sweep), from the notices it sends on the
// stream unasked. It is called on the stream's reader and must not block.
func (ss *Session) OnRevoke(fn func(*pb.RevokedLease)) {
	ss.mu.Lock()
	ss.onRevoke = fn
	ss.mu.Unlock()
}

// Close ends the current stream and waits for its reader; later calls fail.
func (ss *Session) Close() {
	ss.mu.Lock()
	ss.closed = true
	cur := ss.cur
	ss.mu.Unlock()
	if cur != nil {
		_ = cur.s.CloseSend()
		cur.cancel()
	}
	ss.streams.Wait()
}

// open returns the current stream, opening one if there is none.
func (ss *Session) open() (*stream, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return nil, errSessionClosed
	}
	if ss.cur != nil {
		return ss.cur, nil
	}
	ctx, cancel := context.WithCancel(ss.ctx)
	s, err := ss.client.Session(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	st := &stream{s: s, cancel: cancel, pending: map[uint64]chan *pb.SessionResponse{}}
	ss.cur = st
	ss.streams.Add(1)
	go ss.read(st)
	return st, nil
}

// read delivers a stream's replies until it breaks.
func (ss *Session) read(st *stream) {
	defer ss.streams.Done()
	for {
		resp, err := st.s.Recv()
		if err != nil {
			ss.broke(st, err)
			return
		}
		if resp.CallId == 0 {
			ss.notice(resp)
			continue
		}
		ss.mu.Lock()
		ch := st.pending[resp.CallId]
		delete(st.pending, resp.CallId)
		if ch != nil {
			ch <- resp // buffered: never blocks, and done under mu (see abandon)
		}
		ss.mu.Unlock()
		if ch != nil {
			continue
		}
		// A reply nobody waits for: its call was cancelled. A lease in it
		// would otherwise only expire.
		if l := resp.GetAcquire().GetLease(); l != nil {
			go ss.handBack(l)
		}
	}
}

// notice handles a message the coordinator sent unasked (call ID 0).
func (ss *Session) notice(resp *pb.SessionResponse) {
	ss.mu.Lock()
	fn := ss.onRevoke
	ss.mu.Unlock()
	if fn == nil {
		return
	}
	for _, l := range resp.GetRevoked().GetLeases() {
		fn(l)
	}
}

// broke retires a stream: its calls in flight fail, and the next call opens
// a new one.
func (ss *Session) broke(st *stream, err error) {
	ss.mu.Lock()
	if ss.cur == st {
		ss.cur = nil
	}
	pending := st.pending
	st.pending = nil
	closed := ss.closed
	ss.mu.Unlock()
	st.cancel()
	for _, ch := range pending {
		close(ch)
	}
	if !closed && !errors.Is(err, context.Canceled) {
		ss.log.Debug("worker session stream ended", "err", err)
	}
}

// handBack releases a lease that arrived for an abandoned call.
func (ss *Session) handBack(l *pb.Lease) {
	ss.mu.Lock()
	id := ss.workerID
	ss.mu.Unlock()
	_, err := ss.ReleaseTrial(context.WithoutCancel(ss.ctx), &pb.ReleaseTrialRequest{
		WorkerId: id, SweepId: l.SweepId, TrialId: l.TrialId, Token: l.Token,
	})
	if err != nil {
		ss.log.Warn("could not hand back a lease nobody waited for; it will expire", "sweep", l.SweepId, "trial", l.TrialId, "err", err)
	}
}

// call sends one request and waits for its reply, returning the reply's
// status as an error the way a unary call would.
func (ss *Session) call(ctx context.Context, req *pb.SessionRequest) (*pb.SessionResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	st, err := ss.open()
	if err != nil {
		return nil, err
	}
	ch := make(chan *pb.SessionResponse, 1)
	ss.mu.Lock()
	if st.pending == nil { // broken since open returned it
		ss.mu.Unlock()
		return nil, errBroke
	}
	ss.nextID++
	id := ss.nextID
	st.pending[id] = ch
	ss.mu.Unlock()
	req.CallId = id
	st.sendMu.Lock()
	err = st.s.Send(req)
	st.sendMu.Unlock()
	if errors.Is(err, io.EOF) {
		// The stream broke; the reader sees why and fails every call in
		// flight, this one included.
		return wait(ctx, ch, nil)
	}
	if err != nil { // the request could not be sent (encoding)
		ss.mu.Lock()
		delete(st.pending, id)
		ss.mu.Unlock()
		return nil, err
	}
	return wait(ctx, ch, func() { ss.abandon(st, id, ch) })
}

// abandon gives up on a call whose caller stopped waiting: the coordinator
// is told to cancel it, and a lease its reply already brought is handed back.
func (ss *Session) abandon(st *stream, id uint64, ch chan *pb.SessionResponse) {
	ss.mu.Lock()
	_, inFlight := st.pending[id]
	delete(st.pending, id)
	ss.mu.Unlock()
	if !inFlight {
		// The reader delivered the reply (under mu), or the stream broke.
		if resp, ok := <-ch; ok {
			if l := resp.GetAcquire().GetLease(); l != nil {
				go ss.handBack(l)
			}
		}
		return
	}
	st.sendMu.Lock()
	_ = st.s.Send(&pb.SessionRequest{CallId: id, Call: &pb.SessionRequest_Cancel{Cancel: &pb.CancelCallRequest{}}})
	st.sendMu.Unlock()
}

// wait waits for a call's reply; abandon, if not nil, runs when ctx ends
// first.
func wait(ctx context.Context, ch <-chan *pb.SessionResponse, abandon func()) (*pb.SessionResponse, error) {
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, errBroke
		}
		if resp.Code != uint32(codes.OK) {
			return nil, status.Error(codes.Code(resp.Code), resp.Message)
		}
		return resp, nil
	case <-ctx.Done():
		if abandon != nil {
			abandon()
		}
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// AcquireTrial is WorkerService.AcquireTrial over the session.
func (ss *Session) AcquireTrial(ctx context.Context, req *pb.AcquireTrialRequest) (*pb.AcquireTrialResponse, error) {
	ss.mu.Lock()
	ss.workerID = req.WorkerId // a lease that arrives for nobody is handed back under it
	ss.mu.Unlock()
	resp, err := ss.call(ctx, &pb.SessionRequest{Call: &pb.SessionRequest_Acquire{Acquire: req}})
	return resp.GetAcquire(), err // the getters return nil on a nil reply
}

// Heartbeat is WorkerService.Heartbeat over the session.
func (ss *Session) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	resp, err := ss.call(ctx, &pb.SessionRequest{Call: &pb.SessionRequest_Heartbeat{Heartbeat: req}})
	return resp.GetHeartbeat(), err
}

// CompleteTrial is WorkerService.CompleteTrial over the session.
func (ss *Session) CompleteTrial(ctx context.Context, req *pb.CompleteTrialRequest) (*pb.CompleteTrialResponse, error) {
	resp, err := ss.call(ctx, &pb.SessionRequest{Call: &pb.SessionRequest_Complete{Complete: req}})
	return resp.GetComplete(), err
}

// FailTrial is WorkerService.FailTrial over the session.
func (ss *Session) FailTrial(ctx context.Context, req *pb.FailTrialRequest) (*pb.FailTrialResponse, error) {
	resp, err := ss.call(ctx, &pb.SessionRequest{Call: &pb.SessionRequest_Fail{Fail: req}})
	return resp.GetFail(), err
}

// ReleaseTrial is WorkerService.ReleaseTrial over the session.
func (ss *Session) ReleaseTrial(ctx context.Context, req *pb.ReleaseTrialRequest) (*pb.ReleaseTrialResponse, error) {
	resp, err := ss.call(ctx, &pb.SessionRequest{Call: &pb.SessionRequest_Release{Release: req}})
	return resp.GetRelease(), err
}
