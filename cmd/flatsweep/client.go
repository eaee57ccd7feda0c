package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/analysis"
	"github.com/flatsweep/flatsweep/coordinator"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
)

// DefaultCoordinator is the address clients use when neither --coordinator
// nor $FLATSWEEP_COORDINATOR is given.
const DefaultCoordinator = "127.0.0.1:7070"

// CoordinatorEnv names the environment variable that gives the coordinator's
// address to every command that talks to one, when --coordinator is not given.
const CoordinatorEnv = "FLATSWEEP_COORDINATOR"

// connFlags are the flags of a command that talks to a coordinator.
type connFlags struct {
	addr, token, tokenFile    string
	caFile, certFile, keyFile string
	serverName                string
}

// addConnFlags adds --coordinator, the token and the TLS flags to a client command.
func addConnFlags(cmd *cobra.Command, f *connFlags) {
	cmd.Flags().StringVar(&f.addr, "coordinator", "", "coordinator address host:port (default $"+CoordinatorEnv+", else "+DefaultCoordinator+")")
	cmd.Flags().StringVar(&f.token, "token", "", "the token of your role: worker, client or admin (default $FLATSWEEP_TOKEN)")
	cmd.Flags().StringVar(&f.tokenFile, "token-file", "", "read the token from this file")
	cmd.Flags().StringVar(&f.caFile, "tls-ca", "", "connect with TLS, trusting these CA certificates (PEM)")
	cmd.Flags().StringVar(&f.certFile, "tls-cert", "", "client certificate (PEM) for coordinators that require one")
	cmd.Flags().StringVar(&f.keyFile, "tls-key", "", "client certificate key (PEM)")
	cmd.Flags().StringVar(&f.serverName, "tls-server-name", "", "expected name in the coordinator's certificate (default: the host of --coordinator)")
}

// resolveToken returns the token from --token, --token-file or $FLATSWEEP_TOKEN.
func resolveToken(token, file string) (string, error) {
	token, err := readSecret("--token", token, file)
	if err == nil && token == "" {
		token = os.Getenv("FLATSWEEP_TOKEN")
	}
	return token, err
}

// readSecret returns a secret given by a flag or read from the flag's file
// (flag + "-file"), trimmed of surrounding white space.
func readSecret(flag, value, file string) (string, error) {
	switch {
	case value != "" && file != "":
		return "", usagef("%s and %s-file: give one, not both", flag, flag)
	case file == "":
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", usageError{fmt.Errorf("%s-file: %w", flag, err)}
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", usagef("%s-file %s: the file is empty", flag, file)
	}
	return tok, nil
}

// dial opens a client connection to a coordinator. Connections are made lazily:
// the first call fails with codes.Unavailable if nothing listens there.
func (f *connFlags) dial() (*grpc.ClientConn, error) {
	source := "--coordinator"
	if f.addr == "" {
		f.addr, source = os.Getenv(CoordinatorEnv), "$"+CoordinatorEnv
		if f.addr == "" {
			f.addr = DefaultCoordinator
		}
	}
	if err := checkAddress(f.addr); err != nil {
		return nil, usagef("%s %q: %w", source, f.addr, err)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if f.caFile != "" || f.certFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.serverName}
		if f.caFile != "" {
			pool, err := coordinator.LoadCertPool(f.caFile)
			if err != nil {
				return nil, usageError{fmt.Errorf("--tls-ca: %w", err)}
			}
			cfg.RootCAs = pool
		}
		if f.certFile != "" || f.keyFile != "" {
			cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
			if err != nil {
				return nil, usageError{fmt.Errorf("--tls-cert/--tls-key: %w", err)}
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		opts[0] = grpc.WithTransportCredentials(credentials.NewTLS(cfg))
	}
	token, err := resolveToken(f.token, f.tokenFile)
	if err != nil {
		return nil, err
	}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(coordinator.TokenCredentials(token)))
	}
	opts = append(opts, coordinator.DialOptions()...)
	opts = append(opts, grpc.WithChainUnaryInterceptor(explainUnary(f.addr)),
		grpc.WithChainStreamInterceptor(explainStream(f.addr)))
	conn, err := grpc.NewClient(f.addr, opts...)
	if err != nil {
		return nil, usagef("%s %q: %w", source, f.addr, err)
	}
	return conn, nil
}

// checkAddress checks that a coordinator address is host:port, the form
// gRPC dials, and says what to give instead of the forms users try: a URL
// (gRPC has no scheme in its addresses; TLS is --tls-ca) or a host without
// its port (which gRPC would silently dial at :443).
func checkAddress(addr string) error {
	if scheme, rest, ok := strings.Cut(addr, "://"); ok {
		switch strings.ToLower(scheme) {
		case "http", "https", "grpc", "grpcs", "tcp":
			host := strings.TrimSuffix(rest, "/")
			return fmt.Errorf("give host:port without a scheme, e.g. %s (for TLS add --tls-ca)", host)
		}
		return fmt.Errorf("want host:port, e.g. %s", DefaultCoordinator)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return fmt.Errorf("no port: want host:port, e.g. %s:7070 (the coordinator listens on 7070 by default)", addr)
		}
		return fmt.Errorf("want host:port, e.g. %s: %w", DefaultCoordinator, err)
	}
	if host == "" {
		return fmt.Errorf("no host: want host:port, e.g. 127.0.0.1%s", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q: want a number from 1 to 65535", port)
	}
	return nil
}

// explainUnary rewrites the error of a call that could not reach the
// coordinator into one that names the address and what to check; the gRPC
// status code is kept, so callers that test it see the same code.
func explainUnary(addr string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return explain(addr, invoker(ctx, method, req, reply, cc, opts...))
	}
}

// explainStream is explainUnary for the opening of a stream.
func explainStream(addr string) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		return s, explain(addr, err)
	}
}

// explain turns codes.Unavailable into a message a user can act on.
func explain(addr string, err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return err
	}
	why := st.Message()
	if strings.Contains(why, "produced zero addresses") {
		host, _, _ := net.SplitHostPort(addr)
		why = fmt.Sprintf("the host name %q resolves to no address", host)
	}
	return status.Errorf(codes.Unavailable,
		"cannot reach a coordinator at %s: is `flatsweep coordinator` running there, and is the address right? "+
			"(set it with --coordinator or $%s; for TLS give --tls-ca) [%s]", addr, CoordinatorEnv, why)
}

// dialLoopback connects to an in-process coordinator without TLS.
func dialLoopback(addr string) (*grpc.ClientConn, error) {
	return (&connFlags{addr: addr}).dial()
}

// fetchRecords pages through all trials of a sweep and converts them for analysis.
func fetchRecords(ctx context.Context, c pb.SweepServiceClient, sweepID string) ([]analysis.Record, error) {
	_, recs, err := results.Fetch(ctx, func(ctx context.Context, r *pb.QueryResultsRequest) (*pb.QueryResultsResponse, error) {
		return c.QueryResults(ctx, r)
	}, sweepID)
	return recs, err
}

// rpcTimeout bounds a single unary call from the CLI.
const rpcTimeout = 30 * time.Second
