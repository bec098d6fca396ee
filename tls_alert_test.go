package ws_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dillgo/ws"
)

// clientCert returns a self-signed client certificate no server trusts.
func clientCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "ws test client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// clientTLS returns a client configuration trusting ts, up to TLS
// version, presenting certs.
func clientTLS(ts *httptest.Server, version uint16, certs ...tls.Certificate) *tls.Config {
	tc := ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	tc.MaxVersion, tc.Certificates = version, certs
	return tc
}

// TestDialTLSAlert is defect 11: a TLS failure during Dial is ErrProto
// with the TLS error as its cause, not ErrConnReset. A server that
// requires a client certificate refuses with an alert: during the TLS
// handshake with TLS 1.2, and with TLS 1.3 only after the client's
// handshake completed, on the first read of the upgrade's answer (both
// were ErrConnReset). A certificate the client cannot verify and a server
// that does not speak TLS were ErrProto already and must stay so.
func TestDialTLSAlert(t *testing.T) {
	h, _ := echoServer(nil)
	mutual := func(auth tls.ClientAuthType) *httptest.Server {
		ts := httptest.NewUnstartedServer(h)
		ts.TLS = &tls.Config{ClientAuth: auth, ClientCAs: x509.NewCertPool()}
		ts.Config.ErrorLog = log.New(io.Discard, "", 0)
		ts.StartTLS()
		t.Cleanup(ts.Close)
		return ts
	}
	required := mutual(tls.RequireAnyClientCert)
	verified := mutual(tls.RequireAndVerifyClientCert)
	untrusted := httptest.NewUnstartedServer(h)
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0)
	untrusted.StartTLS()
	defer untrusted.Close()
	plain := httptest.NewServer(h)
	defer plain.Close()

	for _, tc := range []struct {
		name  string
		ts    *httptest.Server
		tls   *tls.Config
		alert bool // the cause must match tls.AlertError
		check func(error) bool
	}{
		{"no client certificate, TLS 1.3", required, clientTLS(required, tls.VersionTLS13), true, nil},
		{"no client certificate, TLS 1.2", required, clientTLS(required, tls.VersionTLS12), true, nil},
		{"client certificate refused, TLS 1.3", verified, clientTLS(verified, tls.VersionTLS13, clientCert(t)), true, nil},
		{"client certificate refused, TLS 1.2", verified, clientTLS(verified, tls.VersionTLS12, clientCert(t)), true, nil},
		{"untrusted server certificate", untrusted, &tls.Config{}, false, func(err error) bool {
			var cv *tls.CertificateVerificationError
			return errors.As(err, &cv)
		}},
		{"not a TLS server", plain, &tls.Config{}, false, func(err error) bool {
			var rh tls.RecordHeaderError
			return errors.As(err, &rh)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "wss://" + tc.ts.Listener.Addr().String() + "/"
			c, _, err := (&ws.Config{TLSConfig: tc.tls}).Dial(hsCtx(t), url, 0)
			if c != nil {
				c.Close()
			}
			if !errors.Is(err, ws.ErrProto) || errors.Is(err, ws.ErrConnReset) {
				t.Fatalf("err = %v, want ErrProto", err)
			}
			var alert tls.AlertError
			if tc.alert && !errors.As(err, &alert) {
				t.Fatalf("err = %v, want a cause matching tls.AlertError", err)
			}
			if tc.check != nil && !tc.check(err) {
				t.Fatalf("err = %v (%T), want the TLS error as the cause", err, errors.Unwrap(err))
			}
		})
	}

	// AttachClient runs the same handshake: over a TLS connection whose
	// client certificate the server refuses, it reports ErrProto too.
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		raw, err := net.Dial("tcp", required.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		tc := clientTLS(required, v)
		tc.ServerName = "127.0.0.1"
		u := tls.Client(raw, tc)
		c, err := ws.AttachClient(hsCtx(t), u, 0, "/", required.Listener.Addr().String())
		var alert tls.AlertError
		if c != nil || !errors.Is(err, ws.ErrProto) || !errors.As(err, &alert) {
			t.Fatalf("AttachClient over TLS %x: %v, want ErrProto with a tls.AlertError", v, err)
		}
	}
}
