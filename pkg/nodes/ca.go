package nodes

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

// ServerCNPrefix starts the common name of every server's client
// certificate; a node agent serves only callers whose certificate has it,
// so that one node's certificate does not open another node's endpoints.
const ServerCNPrefix = "server."

// CA is the cluster's node CA: the servers sign each node agent a serving
// certificate with it when the node joins, and themselves a client
// certificate to call node agents with.
type CA struct {
	cert *x509.Certificate
	key  any
	pem  []byte
}

// LoadCA reads a CA certificate and its key (PEM files).
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("reading node CA: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading node CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parsing node CA: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("the node CA certificate is not a CA (basic constraints)")
	}
	return &CA{cert: cert, key: pair.PrivateKey, pem: certPEM}, nil
}

// NewCA makes a CA certificate and key (PEM), valid for ten years: what
// `nomadic node-ca` writes.
func NewCA(name string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

// CertPEM is the CA certificate (PEM).
func (ca *CA) CertPEM() []byte { return ca.pem }

// Pool is a pool holding the CA only.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// NodeCert signs a node agent's serving certificate, for its node ID and
// the hosts it is reached at; valid for a year.
func (ca *CA) NodeCert(nodeID string, hosts []string) (certPEM, keyPEM []byte, err error) {
	return ca.sign("node."+nodeID, hosts, x509.ExtKeyUsageServerAuth, 365*24*time.Hour)
}

// ServerClient signs a server's client certificate, for calling node
// agents; valid for a year (a server makes a new one each start).
func (ca *CA) ServerClient(name string) (tls.Certificate, error) {
	certPEM, keyPEM, err := ca.sign(ServerCNPrefix+name, nil, x509.ExtKeyUsageClientAuth, 365*24*time.Hour)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// ClientTLS is the TLS configuration a server calls node agents with.
func (ca *CA) ClientTLS(name string) (*tls.Config, error) {
	cert, err := ca.ServerClient(name)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}, nil
}

func (ca *CA) sign(cn string, hosts []string, usage x509.ExtKeyUsage, valid time.Duration) ([]byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(valid),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing a certificate for %s: %w", cn, err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return n
}

// AgentTLS is the TLS configuration of a node agent's endpoints: its own
// certificate, and only callers with a client certificate signed by the
// cluster's node CA whose name is a server's.
func AgentTLS(certPEM, keyPEM, caPEM []byte) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading the node agent's certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("the node CA certificate holds no certificate")
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !strings.HasPrefix(cs.PeerCertificates[0].Subject.CommonName, ServerCNPrefix) {
				return errors.New("the caller's certificate is not a server's")
			}
			return nil
		},
	}, nil
}

// ForNode narrows a server's client configuration to one node: the node
// agent must show the certificate the CA signed for that node ID, so that
// a node whose record names another node's address is not believed.
func ForNode(cfg *tls.Config, nodeID string) *tls.Config {
	c := cfg.Clone()
	want := "node." + nodeID
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 || cs.PeerCertificates[0].Subject.CommonName != want {
			return fmt.Errorf("the node agent's certificate is not node %s's", nodeID)
		}
		return nil
	}
	return c
}
