package nomadapi

import (
	"testing"

	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// A plan carries a diff only when asked (nomad job plan asks), and the
// blocked evaluation registering would queue for what cannot be placed.
func TestPlanDiffWhenAskedAndTheBlockedEvaluation(t *testing.T) {
	c := nomadClient(t, &Server{Store: store.New(testutil.Etcd(t), "/nplan"), Name: "t", Version: "test"})
	job := mockJob("web")
	with, _, err := c.Jobs().Plan(job, true, nil)
	if err != nil || with.Diff == nil || with.Diff.Type != "Added" || len(with.FailedTGAllocs) == 0 {
		t.Fatalf("a plan with its diff on a cluster of no node: %+v %v", with, err)
	}
	if len(with.CreatedEvals) != 1 || with.CreatedEvals[0].Status != "blocked" || with.CreatedEvals[0].JobID != "web" {
		t.Fatalf("created evaluations: %+v", with.CreatedEvals)
	}
	without, _, err := c.Jobs().Plan(job, false, nil)
	if err != nil || without.Diff != nil || without.Annotations == nil {
		t.Fatalf("a plan without its diff: %+v %v", without, err)
	}
}
