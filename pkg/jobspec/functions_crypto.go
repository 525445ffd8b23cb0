package jobspec

// bcrypt and rsadecrypt, the two functions of Nomad's job file language
// that take secrets: a password hashed into a job (bcrypt's salt is new at
// every reading, so such a job is a new version at every submission, as in
// Nomad) and a value sealed with an RSA public key, opened with its private
// key at submission.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/gocty"
	"golang.org/x/crypto/bcrypt"
)

const (
	// bcryptDefaultCost is bcrypt's cost when the file names none, as in
	// Nomad's and Terraform's bcrypt.
	bcryptDefaultCost = 10
	// bcryptMaxCost bounds the cost: each step doubles the time, and at
	// 31 one hash takes days; a job file is read by the servers too (the
	// Nomad API's parse endpoint), where no request may take that long.
	// Calls are bounded too (callSteps).
	bcryptMaxCost = 12
	// rsaMaxBits bounds the private keys rsadecrypt takes (a 16384-bit
	// key takes about a second a decryption).
	rsaMaxBits = 8192
)

var bcryptFunc = function.New(&function.Spec{
	Params:   []function.Parameter{{Name: "str", Type: cty.String}},
	VarParam: &function.Parameter{Name: "cost", Type: cty.Number},
	Type:     function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		cost := bcryptDefaultCost
		switch len(args) {
		case 1:
		case 2:
			if err := gocty.FromCtyValue(args[1], &cost); err != nil {
				return cty.NilVal, fmt.Errorf("bcrypt: the cost must be a whole number: %w", err)
			}
		default:
			return cty.NilVal, fmt.Errorf("bcrypt takes a string and at most one cost, not %d arguments", len(args))
		}
		if cost < bcrypt.MinCost || cost > bcryptMaxCost {
			return cty.NilVal, fmt.Errorf("bcrypt: cost %d: want %d to %d here (each step doubles the time)", cost, bcrypt.MinCost, bcryptMaxCost)
		}
		h, err := bcrypt.GenerateFromPassword([]byte(args[0].AsString()), cost)
		if err != nil {
			return cty.NilVal, fmt.Errorf("bcrypt: %w", err)
		}
		return cty.StringVal(string(h)), nil
	},
})

var rsadecryptFunc = function.New(&function.Spec{
	Params: []function.Parameter{
		{Name: "ciphertext", Type: cty.String},
		{Name: "privatekey", Type: cty.String},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		ct, err := base64.StdEncoding.DecodeString(strings.TrimSpace(args[0].AsString()))
		if err != nil {
			return cty.NilVal, fmt.Errorf("rsadecrypt: the ciphertext is not base64: %w", err)
		}
		key, err := parseRSAPrivateKey(args[1].AsString())
		if err != nil {
			return cty.NilVal, fmt.Errorf("rsadecrypt: %w", err)
		}
		out, err := rsa.DecryptPKCS1v15(rand.Reader, key, ct)
		if err != nil {
			return cty.NilVal, errors.New("rsadecrypt: the ciphertext does not open with this key (PKCS #1 v1.5)")
		}
		return cty.StringVal(string(out)), nil
	},
})

// parseRSAPrivateKey reads a PEM "RSA PRIVATE KEY" (PKCS #1) or "PRIVATE
// KEY" (PKCS #8) block.
func parseRSAPrivateKey(s string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil {
		return nil, errors.New("the private key is not PEM")
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted {
		return nil, errors.New("the private key is encrypted with a passphrase; give it unencrypted")
	}
	if len(block.Bytes) > rsaMaxBits/8*6 {
		return nil, fmt.Errorf("the private key is %d bytes; keys of at most %d bits are taken here", len(block.Bytes), rsaMaxBits)
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("reading the private key: %w", err)
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("reading the private key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("the private key is a %T, not RSA", k)
		}
		key = rk
	default:
		return nil, fmt.Errorf("a PEM %q block is not an RSA private key", block.Type)
	}
	if key.N.BitLen() > rsaMaxBits {
		return nil, fmt.Errorf("the private key has %d bits; at most %d here", key.N.BitLen(), rsaMaxBits)
	}
	return key, nil
}

func init() {
	functions["bcrypt"] = bcryptFunc
	functions["rsadecrypt"] = rsadecryptFunc
}
