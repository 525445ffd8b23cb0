package nomadapi

import (
	"encoding/json"
	"testing"
	"time"

	napi "github.com/hashicorp/nomad/api"
)

// TestTokensOfNomadsAPIPackageDecode: the api package sends
// ExpirationTTL as "" when there is none, as "1h0m0s" when there is.
func TestTokensOfNomadsAPIPackageDecode(t *testing.T) {
	for _, want := range []time.Duration{0, time.Hour} {
		b, err := json.Marshal(&napi.ACLToken{Name: "x", Type: "client", Policies: []string{"p"}, ExpirationTTL: want})
		if err != nil {
			t.Fatal(err)
		}
		var w wireACLToken
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if got := fromWireToken(&w).ExpirationTTL.Std(); got != want {
			t.Fatalf("%s: TTL %v, want %v", b, got, want)
		}
		back, err := json.Marshal(toWireToken(fromWireToken(&w)))
		if err != nil {
			t.Fatal(err)
		}
		var tok napi.ACLToken
		if err := json.Unmarshal(back, &tok); err != nil || tok.ExpirationTTL != want {
			t.Fatalf("the api package reads %s as %+v, %v", back, tok, err)
		}
	}
}
