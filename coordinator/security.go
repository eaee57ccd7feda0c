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
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Role is what a caller may do. Every RPC needs one role:
//
//	RoleWorker  WorkerService: register, lease trials, heartbeat, report
//	RoleClient  SweepService: submit, query, pause, resume, cancel, watch
//	RoleAdmin   AdminService (backups), and everything the other roles may
//
// The standard health service needs none.
type Role uint8

// The roles, as bits of a set.
const (
	RoleWorker Role = 1 << iota
	RoleClient
	RoleAdmin
)

// String returns "worker", "client" or "admin" (a set joins its roles with "+").
func (r Role) String() string {
	var names []string
	for _, x := range []struct {
		r    Role
		name string
	}{{RoleWorker, "worker"}, {RoleClient, "client"}, {RoleAdmin, "admin"}} {
		if r&x.r != 0 {
			names = append(names, x.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}

// ParseRole parses "worker", "client" or "admin".
func ParseRole(s string) (Role, error) {
	switch s {
	case "worker":
		return RoleWorker, nil
	case "client":
		return RoleClient, nil
	case "admin":
		return RoleAdmin, nil
	}
	return 0, fmt.Errorf("role %q: want worker, client or admin", s)
}

// Security configures how the coordinator authenticates its peers and what
// each may do. A caller's roles are the union of those its bearer token and
// its client certificate grant:
//
//   - a token is sent as "authorization: Bearer <token>" metadata; Token
//     grants every role (the admin token), WorkerToken the worker role and
//     ClientToken the client role;
//   - with ClientCAFile, a client certificate signed by one of those CAs is
//     required on every connection, and it grants the roles named by the
//     Organizational Unit (OU) entries of its subject: OU=worker, OU=client,
//     OU=admin. Its subject is the caller's identity, which binds a worker ID
//     to the certificate that registered it.
//
// With no token and no client CA every caller may do everything, which is
// allowed on a loopback address only (CheckListen).
type Security struct {
	// Token, when set, is the admin token: it grants every role.
	Token string
	// WorkerToken, when set, grants the worker role only.
	WorkerToken string
	// ClientToken, when set, grants the client role only.
	ClientToken string
	// CertFile and KeyFile, when set, enable TLS with this certificate.
	CertFile, KeyFile string
	// ClientCAFile, when set (with TLS), requires clients to present a
	// certificate signed by one of these CAs; its OU entries name its roles.
	ClientCAFile string
}

// ErrInsecureListen is returned when the coordinator would accept
// connections from other machines without authenticating them.
var ErrInsecureListen = errors.New("refusing to listen beyond loopback without authenticating clients (--token, --worker-token and --client-token, or --tls-client-ca)")

// Authenticates reports whether callers are authenticated: some token or a
// client CA is configured.
func (s Security) Authenticates() bool {
	return s.Token != "" || s.WorkerToken != "" || s.ClientToken != "" || s.ClientCAFile != ""
}

// Enabled reports whether any protection (authentication or TLS) is
// configured.
func (s Security) Enabled() bool { return s.Authenticates() || s.CertFile != "" }

// Check reports an inconsistent configuration: a client CA without TLS, or
// one token given for two roles.
func (s Security) Check() error {
	if s.ClientCAFile != "" && (s.CertFile == "" || s.KeyFile == "") {
		return errors.New("a client CA needs TLS: set the certificate and key too")
	}
	toks := map[string]string{}
	for _, t := range []struct{ flag, tok string }{{"--token", s.Token}, {"--worker-token", s.WorkerToken}, {"--client-token", s.ClientToken}} {
		if t.tok == "" {
			continue
		}
		if other, ok := toks[t.tok]; ok {
			return fmt.Errorf("%s and %s are the same token: give each role its own", other, t.flag)
		}
		toks[t.tok] = t.flag
	}
	return nil
}

// CheckListen returns ErrInsecureListen when addr is not a loopback address
// and callers are not authenticated. TLS alone is not enough: it proves the
// coordinator to its callers, not the callers to it.
func (s Security) CheckListen(addr string) error {
	if s.Authenticates() {
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
	if err := s.Check(); err != nil {
		return nil, err
	}
	var opts []grpc.ServerOption
	if s.CertFile != "" || s.KeyFile != "" {
		cfg, err := s.serverTLS()
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	if s.Authenticates() {
		opts = append(opts,
			grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				ctx, err := s.authorize(ctx, info.FullMethod)
				if err != nil {
					return nil, err
				}
				return h(ctx, req)
			}),
			grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				ctx, err := s.authorize(ss.Context(), info.FullMethod)
				if err != nil {
					return err
				}
				return h(srv, &identifiedStream{ServerStream: ss, ctx: ctx})
			}))
	}
	return opts, nil
}

// identifiedStream is a server stream whose context carries its caller.
type identifiedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identifiedStream) Context() context.Context { return s.ctx }

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

// HTTPTLSConfig returns the TLS configuration of the coordinator's HTTP
// endpoints (the dashboard), nil without a certificate: the gRPC
// certificate, with client certificates verified when given but not
// required, so that a browser may sign in with a token instead.
func (s Security) HTTPTLSConfig() (*tls.Config, error) {
	if s.CertFile == "" {
		return nil, nil
	}
	cfg, err := s.serverTLS()
	if err != nil {
		return nil, err
	}
	if cfg.ClientCAs != nil {
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
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

// requiredRole returns the role a method needs; false for a method that
// needs none (health checks) .
func requiredRole(method string) (Role, bool) {
	switch {
	case strings.HasPrefix(method, "/grpc.health.v1.Health/"):
		return 0, false
	case strings.HasPrefix(method, "/flatsweep.v1.WorkerService/"):
		return RoleWorker, true
	case strings.HasPrefix(method, "/flatsweep.v1.SweepService/"):
		return RoleClient, true
	}
	return RoleAdmin, true // the admin service, reflection, anything else
}

// caller is the authenticated identity of a call.
type caller struct {
	roles    Role
	identity string // "token:worker", "cert:CN=…", …: what a worker ID is bound to
}

type callerKey struct{}

// callerOf returns the identity a call was authenticated as; "" when the
// coordinator does not authenticate.
func callerOf(ctx context.Context) string {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c.identity
}

// authorize authenticates a call — tokens compared in constant time — and
// checks that its roles include the one the method needs. It returns the
// context carrying the caller.
// roleToken is one token and the roles it grants.
type roleToken struct {
	tok   string
	roles Role
	name  string
}

// tokens lists the configured tokens with their roles.
func (s Security) tokens() []roleToken {
	return []roleToken{{s.Token, RoleAdmin | RoleClient | RoleWorker, "admin"}, {s.WorkerToken, RoleWorker, "worker"}, {s.ClientToken, RoleClient, "client"}}
}

// TokenRoles returns the roles a bearer token grants, 0 for none (compared
// in constant time).
func (s Security) TokenRoles(tok string) Role {
	var roles Role
	for _, t := range s.matching(tok) {
		roles |= t.roles
	}
	return roles
}

// matching returns the configured tokens equal to tok (compared in
// constant time).
func (s Security) matching(tok string) []roleToken {
	var out []roleToken
	for _, t := range s.tokens() {
		if t.tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(t.tok)) == 1 {
			out = append(out, t)
		}
	}
	return out
}

// CertRoles returns the roles a verified client certificate chain grants
// through its OU entries (see Security), 0 without a client CA or a chain.
func (s Security) CertRoles(chains [][]*x509.Certificate) Role {
	var roles Role
	if s.ClientCAFile == "" || len(chains) == 0 || len(chains[0]) == 0 {
		return 0
	}
	for _, ou := range chains[0][0].Subject.OrganizationalUnit {
		if r, err := ParseRole(ou); err == nil {
			roles |= r
		}
	}
	return roles
}

func (s Security) authorize(ctx context.Context, method string) (context.Context, error) {
	need, ok := requiredRole(method)
	if !ok {
		return ctx, nil
	}
	var c caller
	var ids []string
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		tok, ok := strings.CutPrefix(v, "Bearer ")
		if !ok {
			continue
		}
		for _, t := range s.matching(tok) {
			c.roles |= t.roles
			ids = append(ids, "token:"+t.name)
		}
	}
	var certSubject string
	if s.ClientCAFile != "" {
		if p, ok := peer.FromContext(ctx); ok {
			if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 && len(ti.State.VerifiedChains[0]) > 0 {
				certSubject = ti.State.VerifiedChains[0][0].Subject.String()
				c.roles |= s.CertRoles(ti.State.VerifiedChains)
				ids = append([]string{"cert:" + certSubject}, ids...)
			}
		}
	}
	if c.roles == 0 {
		msg := "missing or wrong token: pass the token of your role with --token (or set FLATSWEEP_TOKEN)"
		if certSubject != "" {
			msg = fmt.Sprintf("certificate %q grants no role (want OU=worker, OU=client or OU=admin in its subject) and no valid token was sent", certSubject)
		}
		return ctx, status.Error(codes.Unauthenticated, msg)
	}
	if c.roles&RoleAdmin != 0 {
		c.roles |= RoleClient | RoleWorker
	}
	if c.roles&need == 0 {
		return ctx, status.Errorf(codes.PermissionDenied, "%s needs the %s role; these credentials grant %s", method, need, c.roles)
	}
	slices.Sort(ids)
	c.identity = strings.Join(slices.Compact(ids), ",")
	return context.WithValue(ctx, callerKey{}, c), nil
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
