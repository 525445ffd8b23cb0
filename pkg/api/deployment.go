package api

import "time"

// Deployment statuses. A deployment is active while running or paused.
const (
	DeploymentRunning    = "running"
	DeploymentPaused     = "paused"
	DeploymentSuccessful = "successful"
	DeploymentFailed     = "failed"
	DeploymentCancelled  = "cancelled"
)

// Deployment follows the rollout of one version of a service job whose
// groups have an update block: how many allocations of the version were
// placed, how many proved healthy, and whether canaries were promoted.
// The scheduler creates it with the version's first placements; the
// leader's deployment watcher moves it to its end.
type Deployment struct {
	ID         string `json:"id"`
	Namespace  string `json:"namespace"`
	JobID      string `json:"job_id"`
	JobVersion uint64 `json:"job_version"`
	Status     string `json:"status"`
	// StatusDescription says why the deployment is in its status.
	StatusDescription string                      `json:"status_description,omitempty"`
	Groups            map[string]*DeploymentGroup `json:"groups"`
	CreateTime        time.Time                   `json:"create_time"`
	ModifyTime        time.Time                   `json:"modify_time"`

	Indexes
}

// DeploymentGroup is the rollout of one task group.
type DeploymentGroup struct {
	AutoRevert       bool     `json:"auto_revert,omitempty"`
	AutoPromote      bool     `json:"auto_promote,omitempty"`
	ProgressDeadline Duration `json:"progress_deadline,omitempty"`
	// RequireProgressBy is when the deployment fails unless another
	// allocation became healthy by then (zero: no deadline).
	RequireProgressBy time.Time `json:"require_progress_by,omitzero"`
	DesiredTotal      int       `json:"desired_total"`
	DesiredCanaries   int       `json:"desired_canaries,omitempty"`
	Promoted          bool      `json:"promoted,omitempty"`
	// The counts below are the watcher's reading of the allocations
	// placed for this deployment.
	PlacedAllocs    int      `json:"placed_allocs"`
	HealthyAllocs   int      `json:"healthy_allocs"`
	UnhealthyAllocs int      `json:"unhealthy_allocs"`
	PlacedCanaries  []string `json:"placed_canaries,omitempty"`
}

// Active reports whether the deployment can still make progress.
func (d *Deployment) Active() bool {
	return d.Status == DeploymentRunning || d.Status == DeploymentPaused
}

// RequiresPromotion reports whether a group waits for its canaries to be
// promoted.
func (g *DeploymentGroup) RequiresPromotion() bool { return g.DesiredCanaries > 0 && !g.Promoted }

// AllocHealth is the judgement of an allocation's health for a deployment:
// made once, by its node agent (health_check checks or task_states) or by
// an operator (manual).
type AllocHealth struct {
	Healthy     bool      `json:"healthy"`
	Time        time.Time `json:"time"`
	Description string    `json:"description,omitempty"`
}

// Health returns the allocation's deployment health, or nil while it is
// undecided. An operator's manual judgement is kept on the allocation;
// the node agent's is in its status.
func (a *Allocation) Health() *AllocHealth {
	if a.ManualHealth != nil {
		return a.ManualHealth
	}
	if a.Status != nil {
		return a.Status.Health
	}
	return nil
}

// AllocHealthRequest is the body of POST /v1/deployment/{id}/allocation-health.
type AllocHealthRequest struct {
	Healthy   []string `json:"healthy,omitempty"`
	Unhealthy []string `json:"unhealthy,omitempty"`
}
