package coordinator

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr string
		sec  Security
		ok   bool
	}{
		{"127.0.0.1:7070", Security{}, true},
		{"[::1]:7070", Security{}, true},
		{"localhost:7070", Security{}, true},
		{"0.0.0.0:7070", Security{}, false},
		{":7070", Security{}, false},
		{"10.1.2.3:7070", Security{}, false},
		{"0.0.0.0:7070", Security{Token: "s3cret"}, true},
		{"0.0.0.0:7070", Security{WorkerToken: "w", ClientToken: "c"}, true},
		// TLS alone proves the coordinator, not its clients.
		{"0.0.0.0:7070", Security{CertFile: "c", KeyFile: "k"}, false},
		{"0.0.0.0:7070", Security{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}, true},
	} {
		err := tc.sec.CheckListen(tc.addr)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInsecureListen)) {
			t.Errorf("CheckListen(%q, token %v) = %v, want ok=%v", tc.addr, tc.sec.Token != "", err, tc.ok)
		}
	}
}

// serveSecure serves a coordinator with sec on a loopback port.
func serveSecure(t *testing.T, sec Security) string {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(st, Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := sec.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Serve(ctx, lis, opts...) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	return lis.Addr().String()
}

func call(t *testing.T, addr string, opts ...grpc.DialOption) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = pb.NewSweepServiceClient(conn).ListSweeps(ctx, &pb.ListSweepsRequest{})
	return err
}

func TestTokenRequired(t *testing.T) {
	addr := serveSecure(t, Security{Token: "s3cret"})
	plain := grpc.WithTransportCredentials(insecure.NewCredentials())
	if err := call(t, addr, plain); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v, want Unauthenticated", err)
	}
	if err := call(t, addr, plain, grpc.WithPerRPCCredentials(TokenCredentials("wrong"))); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong token: %v, want Unauthenticated", err)
	}
	if err := call(t, addr, plain, grpc.WithPerRPCCredentials(TokenCredentials("s3cret"))); err != nil {
		t.Fatalf("right token: %v", err)
	}
	// Health checks need no token.
	conn, _ := grpc.NewClient(addr, plain)
	defer conn.Close()
	resp, err := grpc_health_v1.NewHealthClient(conn).Check(context.Background(), &grpc_health_v1.HealthCheckRequest{})
	if err != nil || resp.Status != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", resp, err)
	}
}

// pki writes a CA and a server and a client certificate signed by it.
type pki struct {
	dir                           string
	caFile, serverCert, serverKey string
	clientCert, clientKey         string
	workerCert, workerKey         string
	worker2Cert, worker2Key       string
	noRoleCert, noRoleKey         string
	caPool                        *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "flatsweep test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", caDER)
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(ca)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage, ou ...string) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name, OrganizationalUnit: ou},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "EC PRIVATE KEY", kb)
	}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth, "client")
	p.workerCert, p.workerKey = leaf("worker", 4, x509.ExtKeyUsageClientAuth, "worker")
	p.worker2Cert, p.worker2Key = leaf("worker2", 5, x509.ExtKeyUsageClientAuth, "worker")
	p.noRoleCert, p.noRoleKey = leaf("norole", 6, x509.ExtKeyUsageClientAuth)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLSWithClientCertificates(t *testing.T) {
	p := newPKI(t)
	addr := serveSecure(t, Security{CertFile: p.serverCert, KeyFile: p.serverKey, ClientCAFile: p.caFile})
	cert, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	withCert := credentials.NewTLS(&tls.Config{RootCAs: p.caPool, Certificates: []tls.Certificate{cert}})
	if err := call(t, addr, grpc.WithTransportCredentials(withCert)); err != nil {
		t.Fatalf("TLS with client certificate: %v", err)
	}
	noCert := credentials.NewTLS(&tls.Config{RootCAs: p.caPool})
	if err := call(t, addr, grpc.WithTransportCredentials(noCert)); err == nil {
		t.Fatal("TLS without client certificate was accepted")
	}
	if err := call(t, addr, grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
		t.Fatal("plaintext client was accepted by a TLS coordinator")
	}
}

// roleCalls makes one call of each role's service with the given dial
// options and returns their status codes: a worker call (RegisterWorker), a
// client call (ListSweeps), a steering call (CancelSweep of a sweep that
// does not exist: NotFound once allowed) and an admin call (a backup).
func roleCalls(t *testing.T, addr string, opts ...grpc.DialOption) (worker, client, steer, admin codes.Code) {
	t.Helper()
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = pb.NewWorkerServiceClient(conn).RegisterWorker(ctx, &pb.RegisterWorkerRequest{Name: "w", Slots: 1})
	worker = status.Code(err)
	_, err = pb.NewSweepServiceClient(conn).ListSweeps(ctx, &pb.ListSweepsRequest{})
	client = status.Code(err)
	_, err = pb.NewSweepServiceClient(conn).CancelSweep(ctx, &pb.CancelSweepRequest{SweepId: "nope"})
	steer = status.Code(err)
	stream, err := pb.NewAdminServiceClient(conn).BackupDatabase(ctx, &pb.BackupDatabaseRequest{})
	if err == nil {
		for err == nil {
			_, err = stream.Recv()
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	admin = status.Code(err)
	return worker, client, steer, admin
}

// TestTokenRoles: the worker token leases and reports only, the client
// token submits, queries and steers only, and the admin token does
// everything, backups included.
func TestTokenRoles(t *testing.T) {
	addr := serveSecure(t, Security{Token: "admin-secret", WorkerToken: "worker-secret", ClientToken: "client-secret"})
	plain := grpc.WithTransportCredentials(insecure.NewCredentials())
	ok, denied, none := codes.OK, codes.PermissionDenied, codes.NotFound
	for _, c := range []struct {
		token                        string
		worker, client, steer, admin codes.Code
	}{
		{"worker-secret", ok, denied, denied, denied},
		{"client-secret", denied, ok, none, denied},
		{"admin-secret", ok, ok, none, ok},
		{"wrong", codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated},
	} {
		w, cl, st, ad := roleCalls(t, addr, plain, grpc.WithPerRPCCredentials(TokenCredentials(c.token)))
		if w != c.worker || cl != c.client || st != c.steer || ad != c.admin {
			t.Errorf("token %s: worker %v, client %v, cancel %v, backup %v; want %v, %v, %v, %v",
				c.token, w, cl, st, ad, c.worker, c.client, c.steer, c.admin)
		}
	}
	if err := (Security{Token: "same", WorkerToken: "same"}).Check(); err == nil {
		t.Error("one token for two roles was accepted")
	}
}

// TestCertificateRoles: with client certificates, a certificate's OU names
// its role, one without a role OU is refused, and a worker ID registered
// under one certificate cannot be used under another.
func TestCertificateRoles(t *testing.T) {
	p := newPKI(t)
	addr := serveSecure(t, Security{CertFile: p.serverCert, KeyFile: p.serverKey, ClientCAFile: p.caFile})
	creds := func(cert, key string) grpc.DialOption {
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: p.caPool, Certificates: []tls.Certificate{c}}))
	}
	ok, denied := codes.OK, codes.PermissionDenied
	for _, c := range []struct {
		name                         string
		opt                          grpc.DialOption
		worker, client, steer, admin codes.Code
	}{
		{"OU=worker", creds(p.workerCert, p.workerKey), ok, denied, denied, denied},
		{"OU=client", creds(p.clientCert, p.clientKey), denied, ok, codes.NotFound, denied},
		{"no OU", creds(p.noRoleCert, p.noRoleKey), codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated},
	} {
		w, cl, st, ad := roleCalls(t, addr, c.opt)
		if w != c.worker || cl != c.client || st != c.steer || ad != c.admin {
			t.Errorf("certificate %s: worker %v, client %v, cancel %v, backup %v; want %v, %v, %v, %v",
				c.name, w, cl, st, ad, c.worker, c.client, c.steer, c.admin)
		}
	}
	// A worker ID is bound to the certificate that registered it.
	dial := func(opt grpc.DialOption) pb.WorkerServiceClient {
		conn, err := grpc.NewClient(addr, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return pb.NewWorkerServiceClient(conn)
	}
	first, second := dial(creds(p.workerCert, p.workerKey)), dial(creds(p.worker2Cert, p.worker2Key))
	ctx := context.Background()
	reg, err := first.RegisterWorker(ctx, &pb.RegisterWorkerRequest{Name: "w", Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.AcquireTrial(ctx, &pb.AcquireTrialRequest{WorkerId: reg.WorkerId}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("acquire under another certificate's worker ID: %v, want PermissionDenied", err)
	}
	if _, err := second.Heartbeat(ctx, &pb.HeartbeatRequest{WorkerId: reg.WorkerId, SweepId: "s", TrialId: "t", Token: "x"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("heartbeat under another certificate's worker ID: %v, want PermissionDenied", err)
	}
	if _, err := first.AcquireTrial(ctx, &pb.AcquireTrialRequest{WorkerId: reg.WorkerId}); err != nil {
		t.Errorf("acquire under its own certificate: %v", err)
	}
}
