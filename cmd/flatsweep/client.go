package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flatsweep/flatsweep/analysis"
	"github.com/flatsweep/flatsweep/coordinator"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
)

// DefaultCoordinator is the address clients use when --coordinator is not given.
const DefaultCoordinator = "127.0.0.1:7070"

// connFlags are the flags of a command that talks to a coordinator.
type connFlags struct {
	addr, token, tokenFile    string
	caFile, certFile, keyFile string
	serverName                string
}

// addConnFlags adds --coordinator, the token and the TLS flags to a client command.
func addConnFlags(cmd *cobra.Command, f *connFlags) {
	cmd.Flags().StringVar(&f.addr, "coordinator", DefaultCoordinator, "coordinator address host:port")
	cmd.Flags().StringVar(&f.token, "token", "", "shared token (default $FLATSWEEP_TOKEN)")
	cmd.Flags().StringVar(&f.tokenFile, "token-file", "", "read the shared token from this file")
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
	if f.addr == "" {
		return nil, usagef("--coordinator: want host:port, got an empty address")
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
	conn, err := grpc.NewClient(f.addr, opts...)
	if err != nil {
		return nil, usagef("--coordinator %q: %v", f.addr, err)
	}
	return conn, nil
}

// dialLoopback connects to an in-process coordinator without TLS.
func dialLoopback(addr string) (*grpc.ClientConn, error) {
	return (&connFlags{addr: addr}).dial()
}

// fetchRecords pages through all trials of a sweep and converts them for analysis.
func fetchRecords(ctx context.Context, c pb.SweepServiceClient, sweepID string) ([]analysis.Record, error) {
	var out []analysis.Record
	token := ""
	for {
		resp, err := c.QueryResults(ctx, &pb.QueryResultsRequest{SweepId: sweepID, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("query results of %s: %w", sweepID, err)
		}
		for _, t := range resp.Trials {
			rec, err := results.FromTrial(t)
			if err != nil {
				return nil, err
			}
			out = append(out, rec)
		}
		if resp.NextPageToken == "" {
			return out, nil
		}
		token = resp.NextPageToken
	}
}

// rpcTimeout bounds a single unary call from the CLI.
const rpcTimeout = 30 * time.Second
