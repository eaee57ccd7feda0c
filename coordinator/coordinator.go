// Package coordinator serves flatsweep's gRPC services — SweepService for
// users, WorkerService for workers (unary calls and the session stream) and
// AdminService — over the lease core (package lease), which holds the state
// machine of trials and leases. The services only translate: protobuf
// requests into core calls, the core's typed errors into gRPC status codes
// (see status.go). Beside the core the coordinator keeps the per-sweep result
// rows that AggregateResults groups with the results engine.
package coordinator

import (
	"context"
	"log/slog"
	"net/http"

	"google.golang.org/grpc"

	"github.com/flatsweep/flatsweep/coordinator/lease"
	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// Config holds the coordinator's lease and retry policy (see lease.Config).
type Config = lease.Config

// Clock tells the time (see lease.Clock).
type Clock = lease.Clock

// MaxAcquireWait caps how long AcquireTrial holds a call open.
const MaxAcquireWait = lease.MaxAcquireWait

// Coordinator is the lease core with its gRPC services.
type Coordinator struct {
	core     *lease.Core
	store    *store.Store
	rows     *aggregator
	sessions *sessions
	log      *slog.Logger
}

// New builds a coordinator over an open store (see lease.New).
func New(st *store.Store, cfg Config) (*Coordinator, error) {
	rows := newAggregator(st)
	cfg.Observer = rows
	ss := newSessions()
	cfg.Revoked = ss.revoke
	core, err := lease.New(st, cfg)
	if err != nil {
		return nil, err
	}
	return &Coordinator{core: core, store: st, rows: rows, sessions: ss, log: core.Config().Logger}, nil
}

// Core returns the lease core.
func (c *Coordinator) Core() *lease.Core { return c.core }

// SweepService returns the coordinator's SweepService for in-process
// callers (the web dashboard): the calls remote clients make, without the
// network and without the per-call authentication of the gRPC server, so
// the caller checks its users' roles itself.
func (c *Coordinator) SweepService() pb.SweepServiceServer { return &sweepServer{c: c} }

// SweepVersion returns a number that changes whenever a sweep's trials
// change state or a bulk change touches them (it does not change for
// heartbeats), for in-process caches of what is computed from them.
func (c *Coordinator) SweepVersion(id string) int {
	c.rows.mu.Lock()
	defer c.rows.mu.Unlock()
	return c.rows.version[id]
}

// Register adds the SweepService, WorkerService and AdminService to a gRPC server.
func (c *Coordinator) Register(s grpc.ServiceRegistrar) {
	pb.RegisterSweepServiceServer(s, &sweepServer{c: c})
	pb.RegisterWorkerServiceServer(s, &workerServer{c: c})
	pb.RegisterAdminServiceServer(s, &adminServer{c: c})
}

// Start runs the rescuer until Stop is called or ctx ends.
func (c *Coordinator) Start(ctx context.Context) { c.core.Start(ctx) }

// Stop stops the rescuer and waits for it.
func (c *Coordinator) Stop() { c.core.Stop() }

// Rescue returns expired leases to pending and due retries to the queue
// (see lease.Core.Rescue).
func (c *Coordinator) Rescue() { c.core.Rescue() }

// MetricsHandler returns an HTTP handler serving the coordinator's metrics in
// the Prometheus exposition format (see lease.Core.MetricsHandler).
func (c *Coordinator) MetricsHandler() http.Handler { return c.core.MetricsHandler() }
