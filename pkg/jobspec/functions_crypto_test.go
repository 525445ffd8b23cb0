package jobspec

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func cryptoJob(meta string) []byte {
	return []byte("job \"j\" {\n  meta {\n" + meta + "\n  }\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config { command = \"/bin/true\" }\n    }\n  }\n}\n")
}

// bcrypt hashes a password into a job, as Nomad's does: a hash that
// verifies, at the default cost or the one given; a cost that would stall
// the reader is a located error.
func TestBcryptHashesAtTheCostGiven(t *testing.T) {
	t.Parallel()
	job, err := Parse("j.nomad.hcl", cryptoJob(`    h1 = bcrypt("hunter2")
    h2 = bcrypt("hunter2", 5)`))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]int{"h1": bcryptDefaultCost, "h2": 5} {
		h := []byte(job.Meta[k])
		if err := bcrypt.CompareHashAndPassword(h, []byte("hunter2")); err != nil {
			t.Errorf("%s = %q does not verify: %v", k, h, err)
		}
		if c, err := bcrypt.Cost(h); err != nil || c != want {
			t.Errorf("%s cost %d (%v), want %d", k, c, err, want)
		}
	}
	for _, bad := range []string{`bcrypt("x", 13)`, `bcrypt("x", 2)`, `bcrypt("x", 1.5)`, `bcrypt("x", 10, 11)`} {
		if _, err := Parse("j.nomad.hcl", cryptoJob("    x = "+bad)); err == nil || !strings.Contains(err.Error(), "j.nomad.hcl:3:") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// rsadecrypt opens a value sealed with the public key, given the private
// key in PKCS #1 or PKCS #8 PEM; a wrong key or a bad input is a located
// error that does not echo the key.
func TestRSADecryptOpensWhatThePublicKeySealed(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, &key.PublicKey, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pems := map[string]string{
		"pkcs1": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		"pkcs8": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
	}
	b64 := base64.StdEncoding.EncodeToString(ct)
	for name, p := range pems {
		src := cryptoJob("    x = rsadecrypt(\"" + b64 + "\", <<EOK\n" + p + "EOK\n    )")
		job, err := Parse("j.nomad.hcl", src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if job.Meta["x"] != "s3cret" {
			t.Errorf("%s: %q", name, job.Meta["x"])
		}
	}
	wrong := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
	for name, args := range map[string]string{
		"wrong key":      "\"" + b64 + "\", <<EOK\n" + wrong + "EOK\n",
		"not base64":     "\"%%%\", <<EOK\n" + pems["pkcs1"] + "EOK\n",
		"not PEM":        "\"" + b64 + "\", \"nope\"",
		"not a key type": "\"" + b64 + "\", <<EOK\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\nEOK\n",
	} {
		_, err := Parse("j.nomad.hcl", cryptoJob("    x = rsadecrypt("+args+"\n    )"))
		if err == nil || !strings.Contains(err.Error(), "j.nomad.hcl:3:") || !strings.Contains(err.Error(), "rsadecrypt") {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "MII") {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
}

// bcrypt and rsadecrypt pay for their work from the file's budget: a
// file cannot make a server hash for hours.
func TestCostlyCallsAreBounded(t *testing.T) {
	t.Parallel()
	_, err := Parse("j.nomad.hcl", cryptoJob(`    x = join(",", [for i in range(100) : bcrypt("x", 4)])`))
	if err == nil || !strings.Contains(err.Error(), "too costly") {
		t.Fatalf("a hundred bcrypt calls: %v", err)
	}
	if _, err := Parse("j.nomad.hcl", cryptoJob(`    x = join(",", [for i in range(5) : bcrypt("x", 4)])`)); err != nil {
		t.Fatalf("five calls: %v", err)
	}
}
