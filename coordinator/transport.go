package coordinator

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// flowWindow is the HTTP/2 flow-control window of every stream and
// connection, on both sides. Setting it turns off gRPC's bandwidth-delay
// estimator, whose pings would otherwise follow nearly every message of a
// busy worker session: two extra frames, and their syscalls, per message.
// 4 MiB keeps a 10 ms round trip at 400 MB/s for large replies (backups,
// grouped queries).
const flowWindow = 4 << 20

// Keepalive timing. Workers hold a session stream open for as long as they
// run; pings find a connection that died without a close (a machine
// powered off, a NAT that forgot the flow), so that its calls fail and the
// worker reconnects instead of waiting forever.
const (
	keepaliveTime    = 30 * time.Second
	keepaliveTimeout = 10 * time.Second
)

// serverOptions are the transport settings Serve applies before the caller's
// options: static flow-control windows and a keepalive policy that admits
// the clients' pings.
func serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.InitialWindowSize(flowWindow),
		grpc.InitialConnWindowSize(flowWindow),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveTime / 2, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
	}
}

// MaxReplyBytes is the largest reply a client of the coordinator accepts:
// query pages stay under MaxPageBytes, but a grouped summary of a very large
// grid may pass gRPC's default of 4 MiB.
const MaxReplyBytes = 64 << 20

// DialOptions returns the transport settings a client of the coordinator
// should dial with (besides its credentials): static flow-control windows
// matching the server's, keepalive pings and replies up to MaxReplyBytes.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxReplyBytes)),
		grpc.WithInitialWindowSize(flowWindow),
		grpc.WithInitialConnWindowSize(flowWindow),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: keepaliveTime, Timeout: keepaliveTimeout, PermitWithoutStream: true}),
	}
}
