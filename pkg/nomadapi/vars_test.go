package nomadapi

import (
	"strings"
	"testing"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/keyring/keyringtest"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	"github.com/nomadic-project/nomadic/pkg/variables"
)

// Variables list in pages, as Nomad's; one without items is refused with
// Nomad's words.
func TestVariablesPageAndNeedItems(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/nvars")
	kr := keyringtest.Running(t, st)
	c := nomadClient(t, &Server{Store: st, Name: "t", Version: "test", Vars: &variables.Service{Store: st, Keyring: kr}})
	vars := c.Variables()
	for _, p := range []string{"a/one", "b/two", "c/three"} {
		if _, _, err := vars.Create(&napi.Variable{Path: p, Items: napi.VariableItems{"k": p}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var paths []string
	next := ""
	for range 5 {
		l, qm, err := vars.List(&napi.QueryOptions{PerPage: 2, NextToken: next})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range l {
			paths = append(paths, v.Path)
		}
		if next = qm.NextToken; next == "" {
			break
		}
	}
	if strings.Join(paths, ",") != "a/one,b/two,c/three" {
		t.Fatalf("paged: %v", paths)
	}
	if _, _, err := vars.Create(&napi.Variable{Path: "bad/var"}, nil); err == nil || !strings.Contains(err.Error(), "400 (variable missing required Items object)") {
		t.Fatalf("no items: %v", err)
	}
}
