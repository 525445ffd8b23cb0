package nomadapi

import (
	"errors"
	"strings"
	"testing"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

func TestNodePoolApplyInfoAndDelete(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/npool")
	c := nomadClient(t, &Server{Store: st, Name: "t", Version: "test"})
	pools := c.NodePools()
	// nomad node pool apply gpu.hcl
	if _, err := pools.Register(&napi.NodePool{Name: "gpu", Description: "machines with GPUs", Meta: map[string]string{"team": "ml"}}, nil); err != nil {
		t.Fatal(err)
	}
	p, _, err := pools.Info("gpu", nil)
	if err != nil || p.Description != "machines with GPUs" || p.Meta["team"] != "ml" || p.ModifyIndex == 0 {
		t.Fatalf("info: %+v %v", p, err)
	}
	list, _, err := pools.List(nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "all,default,gpu" {
		t.Fatalf("pools: %v", names)
	}
	// Pages, as every list: per_page, then next_token.
	first, qm, err := pools.List(&napi.QueryOptions{PerPage: 2})
	if err != nil || len(first) != 2 || first[1].Name != "default" || qm.NextToken != "gpu" {
		t.Fatalf("a page of 2: %v %+v %v", first, qm, err)
	}
	rest, _, err := pools.List(&napi.QueryOptions{PerPage: 2, NextToken: qm.NextToken})
	if err != nil || len(rest) != 1 || rest[0].Name != "gpu" {
		t.Fatalf("the next page: %v %v", rest, err)
	}
	for _, bad := range []*napi.NodePool{
		{Name: "all", Description: "mine"},
		{Name: "bad name"},
		{Name: "sched", SchedulerConfiguration: &napi.NodePoolSchedulerConfiguration{SchedulerAlgorithm: "spread"}},
	} {
		if _, err := pools.Register(bad, nil); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("pool %+v: %v", bad, err)
		}
	}
	// A pool a job runs in stays.
	j := napi.NewServiceJob("in-gpu", "in-gpu", "global", 50)
	j.NodePool = new("gpu")
	j.AddTaskGroup(napi.NewTaskGroup("g", 1).AddTask(napi.NewTask("t", "mock")))
	if _, _, err := c.Jobs().Register(j, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pools.Delete("gpu", nil); err == nil || !strings.Contains(err.Error(), `job "in-gpu"`) {
		t.Fatalf("deleting a pool a job runs in: %v", err)
	}
	if _, _, err := c.Jobs().Deregister("in-gpu", true, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pools.Delete("gpu", nil); err != nil {
		t.Fatal(err)
	}
	var ue napi.UnexpectedResponseError
	if _, err := pools.Delete("gpu", nil); !errors.As(err, &ue) || ue.StatusCode() != 404 {
		t.Fatalf("deleting it again: %v", err)
	}
	if _, err := pools.Delete("default", nil); err == nil || !strings.Contains(err.Error(), "built in") {
		t.Fatalf("deleting default: %v", err)
	}
}
