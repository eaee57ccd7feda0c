package main

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/flatsweep/flatsweep/coordinator"
	"github.com/flatsweep/flatsweep/coordinator/lease"
	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/dashboard"
	"github.com/flatsweep/flatsweep/internal/gctune"
)

func newCoordinatorCmd() *cobra.Command {
	var (
		listen, db  string
		ttl         time.Duration
		maxAttempts int
		token       string
		tokenFile   string
		workerTok   string
		workerFile  string
		clientTok   string
		clientFile  string
		sec         coordinator.Security
		metricsAddr string
		httpAddr    string
		heapFloor   int
		maxEpochs   int
		maxMessage  int
		acceptSim   bool
		leaseOrder  string
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
			if sec.WorkerToken, err = readSecret("--worker-token", workerTok, workerFile); err != nil {
				return err
			}
			if sec.ClientToken, err = readSecret("--client-token", clientTok, clientFile); err != nil {
				return err
			}
			if err := sec.Check(); err != nil {
				return usagef("credentials: %v", err)
			}
			if err := sec.CheckListen(listen); err != nil {
				return usagef("--listen: %v", err)
			}
			if httpAddr != "" {
				if err := sec.CheckListen(httpAddr); err != nil {
					return usagef("--http: %v", err)
				}
			}
			if maxEpochs < 1 {
				return usagef("--max-curve-epochs: must be at least 1, got %d", maxEpochs)
			}
			if maxMessage < 64<<10 {
				return usagef("--max-message-bytes: must be at least 65536, got %d", maxMessage)
			}
			if sec.Authenticates() && sec.CertFile == "" && !isLoopback(listen) {
				slog.Warn("tokens travel in plaintext without TLS: give --tls-cert and --tls-key unless the network is trusted")
			}
			if sec.Token != "" && sec.WorkerToken == "" && sec.ClientToken == "" && sec.ClientCAFile == "" {
				slog.Warn("one token grants every role: workers holding it can also submit, cancel and back up; give workers --worker-token and users --client-token")
			}
			if heapFloor < 0 {
				return usagef("--heap-floor-mib: must be 0 or more, got %d", heapFloor)
			}
			defer gctune.Floor(uint64(heapFloor) << 20)()
			opts, err := sec.ServerOptions()
			if err != nil {
				return usagef("TLS flags: %v", err)
			}
			opts = append(opts, grpc.MaxRecvMsgSize(maxMessage))
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
			if leaseOrder != "cost" && leaseOrder != "id" {
				return usagef("--lease-order: want cost or id, got %q", leaseOrder)
			}
			if acceptSim {
				slog.Warn("accepting simulated trials: results from workers started with --simulate are stored, marked simulated; use this database for benchmarks only", "db", db)
			}
			c, err := coordinator.New(st, coordinator.Config{LeaseTTL: ttl, MaxAttempts: maxAttempts, Logger: slog.Default(),
				Limits: lease.Limits{MaxCurveEpochs: maxEpochs}, AcceptSimulated: acceptSim, IDOrder: leaseOrder == "id"})
			if err != nil {
				return err
			}
			if metricsAddr != "" {
				if err := serveMetrics(cmd.Context(), metricsAddr, c); err != nil {
					return err
				}
			}
			if httpAddr != "" {
				if err := serveDashboard(cmd.Context(), httpAddr, c, sec); err != nil {
					return err
				}
			}
			return c.Serve(cmd.Context(), lis, opts...)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", DefaultCoordinator, "address to listen on (host:port); beyond loopback only with client authentication (tokens or --tls-client-ca)")
	cmd.Flags().StringVar(&db, "db", "flatsweep.db", "bbolt database file")
	cmd.Flags().DurationVar(&ttl, "lease-ttl", 30*time.Second, "lease lifetime without a heartbeat")
	cmd.Flags().IntVar(&maxAttempts, "max-attempts", 3, "attempts per trial before it is discarded")
	cmd.Flags().StringVar(&token, "token", "", "admin token: grants every role, backups included (default $FLATSWEEP_TOKEN)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "read the admin token from this file")
	cmd.Flags().StringVar(&workerTok, "worker-token", "", "token of the worker role: lease trials and report them, nothing else")
	cmd.Flags().StringVar(&workerFile, "worker-token-file", "", "read the worker token from this file")
	cmd.Flags().StringVar(&clientTok, "client-token", "", "token of the client role: submit, query, pause, resume and cancel sweeps")
	cmd.Flags().StringVar(&clientFile, "client-token-file", "", "read the client token from this file")
	cmd.Flags().IntVar(&maxEpochs, "max-curve-epochs", lease.DefaultMaxCurveEpochs, "longest training curve a trial may report, in epochs (about 70 bytes each); longer reports are refused")
	cmd.Flags().IntVar(&maxMessage, "max-message-bytes", 4<<20, "largest request the coordinator accepts, in bytes")
	cmd.Flags().StringVar(&sec.CertFile, "tls-cert", "", "serve TLS with this certificate (PEM)")
	cmd.Flags().StringVar(&sec.KeyFile, "tls-key", "", "key of --tls-cert (PEM)")
	cmd.Flags().StringVar(&sec.ClientCAFile, "tls-client-ca", "", "require client certificates signed by these CAs (PEM); a certificate's OU=worker, OU=client or OU=admin names its role")
	cmd.Flags().StringVar(&httpAddr, "http", "", "serve the web dashboard at http://ADDR/ (e.g. 127.0.0.1:8080; beyond loopback only with client authentication, as --listen; HTTPS with --tls-cert)")
	cmd.Flags().StringVar(&metricsAddr, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9090)")
	cmd.Flags().BoolVar(&acceptSim, "accept-simulated", false, "let workers started with --simulate register and store their (simulated, measurement-free) results: for benchmark databases only")
	cmd.Flags().StringVar(&leaseOrder, "lease-order", "cost", "order of a sweep's pending trials: cost (longest predicted duration first, which shortens the makespan) or id (trial-ID order, unrelated to cost: a baseline for benchmarks)")
	cmd.Flags().IntVar(&heapFloor, "heap-floor-mib", gctune.DefaultFloor>>20, "let the heap grow to this many MiB before the garbage collector runs (fewer collections, a shorter latency tail; 0 keeps Go's default)")
	return cmd
}

// isLoopback reports whether a listen address is on loopback.
func isLoopback(addr string) bool {
	return coordinator.Security{}.CheckListen(addr) == nil
}

// serveDashboard serves the web dashboard until ctx ends.
func serveDashboard(ctx context.Context, addr string, c *coordinator.Coordinator, sec coordinator.Security) error {
	d, err := dashboard.New(c, dashboard.Options{Security: sec, Logger: slog.Default()})
	if err != nil {
		return err
	}
	tlsCfg, err := sec.HTTPTLSConfig()
	if err != nil {
		return usagef("TLS flags: %v", err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return usagef("--http %q: %v", addr, err)
	}
	scheme := "http"
	if tlsCfg != nil {
		lis, scheme = tls.NewListener(lis, tlsCfg), "https"
	}
	srv := &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	slog.Info("dashboard listening", "addr", lis.Addr().String(), "url", scheme+"://"+lis.Addr().String()+"/")
	return nil
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
