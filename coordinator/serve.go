package coordinator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// gracePeriod bounds how long Serve waits for in-flight calls when stopping.
const gracePeriod = 5 * time.Second

// Serve runs the coordinator's gRPC services (plus the standard health and
// reflection services) on lis, with the transport settings of DialOptions,
// and the rescuer, until ctx ends; then it stops
// gracefully: new calls are refused, in-flight calls get gracePeriod to finish
// (long-polling acquires are cut short).
func (c *Coordinator) Serve(ctx context.Context, lis net.Listener, opts ...grpc.ServerOption) error {
	srv := grpc.NewServer(append(serverOptions(), opts...)...)
	c.Register(srv)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)

	c.Start(ctx)
	defer c.Stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	c.log.Info("coordinator listening", "addr", lis.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	hs.Shutdown()
	c.Stop() // wakes long-polling acquirers
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(gracePeriod):
		srv.Stop()
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}
