package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/coordinator"
	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/gctune"
)

func newCoordinatorCmd() *cobra.Command {
	var (
		listen, db  string
		ttl         time.Duration
		maxAttempts int
		token       string
		tokenFile   string
		sec         coordinator.Security
		metricsAddr string
		heapFloor   int
	)
	cmd := &cobra.Command{
		Use:   "coordinator",
		Short: "Serve the sweep and worker gRPC services, storing everything in a bbolt file",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if ttl < time.Second {
				return usagef("--lease-ttl: must be at least 1s, got %s", ttl)
			}
			if maxAttempts < 1 {
				return usagef("--max-attempts: must be at least 1, got %d", maxAttempts)
			}
			if sec.Token, err = resolveToken(token, tokenFile); err != nil {
				return err
			}
			if err := sec.CheckListen(listen); err != nil {
				return usagef("--listen: %v", err)
			}
			if heapFloor < 0 {
				return usagef("--heap-floor-mib: must be 0 or more, got %d", heapFloor)
			}
			defer gctune.Floor(uint64(heapFloor) << 20)()
			opts, err := sec.ServerOptions()
			if err != nil {
				return usagef("TLS flags: %v", err)
			}
			lis, err := net.Listen("tcp", listen)
			if err != nil {
				return usagef("--listen %q: %v", listen, err)
			}
			st, err := store.Open(db)
			if err != nil {
				_ = lis.Close()
				return err
			}
			defer st.Close()
			// Trials stored before content identity get it now, where
			// their files can be read from here.
			if err := migrateIdentities(st, "", nil, slog.Default()); err != nil {
				return err
			}
			c, err := coordinator.New(st, coordinator.Config{LeaseTTL: ttl, MaxAttempts: maxAttempts, Logger: slog.Default()})
			if err != nil {
				return err
			}
			if metricsAddr != "" {
				if err := serveMetrics(cmd.Context(), metricsAddr, c); err != nil {
					return err
				}
			}
			return c.Serve(cmd.Context(), lis, opts...)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", DefaultCoordinator, "address to listen on (host:port); beyond loopback only with --token or TLS")
	cmd.Flags().StringVar(&db, "db", "flatsweep.db", "bbolt database file")
	cmd.Flags().DurationVar(&ttl, "lease-ttl", 30*time.Second, "lease lifetime without a heartbeat")
	cmd.Flags().IntVar(&maxAttempts, "max-attempts", 3, "attempts per trial before it is discarded")
	cmd.Flags().StringVar(&token, "token", "", "shared token that workers and clients must send (default $FLATSWEEP_TOKEN)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "read the shared token from this file")
	cmd.Flags().StringVar(&sec.CertFile, "tls-cert", "", "serve TLS with this certificate (PEM)")
	cmd.Flags().StringVar(&sec.KeyFile, "tls-key", "", "key of --tls-cert (PEM)")
	cmd.Flags().StringVar(&sec.ClientCAFile, "tls-client-ca", "", "require client certificates signed by these CAs (PEM)")
	cmd.Flags().StringVar(&metricsAddr, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9090)")
	cmd.Flags().IntVar(&heapFloor, "heap-floor-mib", gctune.DefaultFloor>>20, "let the heap grow to this many MiB before the garbage collector runs (fewer collections, a shorter latency tail; 0 keeps Go's default)")
	return cmd
}

// serveMetrics serves the coordinator's Prometheus metrics until ctx ends.
func serveMetrics(ctx context.Context, addr string, c *coordinator.Coordinator) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return usagef("--metrics-listen %q: %v", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", c.MetricsHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	slog.Info("metrics listening", "addr", lis.Addr().String())
	return nil
}
