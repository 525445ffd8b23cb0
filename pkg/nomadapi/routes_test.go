package nomadapi

import (
	"testing"

	"github.com/nomadic-project/nomadic/pkg/access"
)

// TestEveryRouteHasAnACLRuleAndEveryRuleARoute walks the registered
// routes: registering one without a rule panics, and a rule left without
// its route is a stale row of the table.
func TestEveryRouteHasAnACLRuleAndEveryRuleARoute(t *testing.T) {
	s := &Server{}
	registered := map[string]bool{}
	for _, p := range s.routes().Patterns() {
		registered[p] = true
	}
	for p := range access.NomadRules {
		if !registered[p] {
			t.Errorf("access.NomadRules has a rule for %q, which is not a route", p)
		}
	}
	if len(registered) < 80 {
		t.Fatalf("only %d routes registered", len(registered))
	}
}
