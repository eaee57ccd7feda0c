package coordinator

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Security configures how the coordinator authenticates its peers. With
// neither a token nor TLS it must listen on a loopback address only.
type Security struct {
	// Token, when set, is a shared secret every worker and client must send
	// as "authorization: Bearer <token>" metadata.
	Token string
	// CertFile and KeyFile, when set, enable TLS with this certificate.
	CertFile, KeyFile string
	// ClientCAFile, when set (with TLS), requires clients to present a
	// certificate signed by one of these CAs.
	ClientCAFile string
}

// ErrInsecureListen is returned when the coordinator would accept connections
// from other machines without a token or TLS.
var ErrInsecureListen = errors.New("refusing to listen beyond loopback without --token or TLS")

// Enabled reports whether any protection is configured.
func (s Security) Enabled() bool { return s.Token != "" || s.CertFile != "" }

// CheckListen returns ErrInsecureListen when addr is not a loopback address
// and no protection is configured.
func (s Security) CheckListen(addr string) error {
	if s.Enabled() {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %q is not a loopback address", ErrInsecureListen, addr)
}

// ServerOptions returns the gRPC server options that enforce s.
func (s Security) ServerOptions() ([]grpc.ServerOption, error) {
	var opts []grpc.ServerOption
	if s.CertFile != "" || s.KeyFile != "" {
		cfg, err := s.serverTLS()
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	} else if s.ClientCAFile != "" {
		return nil, errors.New("a client CA needs TLS: set the certificate and key too")
	}
	if s.Token != "" {
		opts = append(opts,
			grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				if err := s.authorize(ctx, info.FullMethod); err != nil {
					return nil, err
				}
				return h(ctx, req)
			}),
			grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				if err := s.authorize(ss.Context(), info.FullMethod); err != nil {
					return err
				}
				return h(srv, ss)
			}))
	}
	return opts, nil
}

func (s Security) serverTLS() (*tls.Config, error) {
	if s.CertFile == "" || s.KeyFile == "" {
		return nil, errors.New("TLS needs both a certificate and a key file")
	}
	cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS key pair %s, %s: %w", s.CertFile, s.KeyFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if s.ClientCAFile != "" {
		pool, err := LoadCertPool(s.ClientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// LoadCertPool reads PEM certificates from a file into a pool.
func LoadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// unauthenticatedMethods may be called without the token: health checks.
func unauthenticated(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/")
}

// authorize checks the bearer token of a call in constant time.
func (s Security) authorize(ctx context.Context, method string) error {
	if unauthenticated(method) {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		tok, ok := strings.CutPrefix(v, "Bearer ")
		if ok && subtle.ConstantTimeCompare([]byte(tok), []byte(s.Token)) == 1 {
			return nil
		}
	}
	return status.Error(codes.Unauthenticated, "missing or wrong token: pass the coordinator's --token (or set FLATSWEEP_TOKEN)")
}

// TokenCredentials sends a bearer token with every call. It is allowed over
// plaintext connections because the coordinator may run without TLS on a
// trusted network; use TLS to keep the token secret on the wire.
type TokenCredentials string

// GetRequestMetadata returns the authorization header.
func (t TokenCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

// RequireTransportSecurity returns false: see the type's comment.
func (TokenCredentials) RequireTransportSecurity() bool { return false }
