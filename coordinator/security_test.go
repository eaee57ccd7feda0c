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
		{"0.0.0.0:7070", Security{CertFile: "c", KeyFile: "k"}, true},
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
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
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
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
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
