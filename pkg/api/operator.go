package api

import "time"

// SchedulerConfig is the cluster-wide scheduler configuration, as stored
// and as the API serves it.
type SchedulerConfig struct {
	// Algorithm is binpack (default) or spread.
	Algorithm          string `json:"algorithm"`
	PreemptionDisabled bool   `json:"preemption_disabled,omitempty"`
}

// ForceLeaveResult says what removing a dead server took away.
type ForceLeaveResult struct {
	Server string `json:"server"`
	// Registration is set when the server's live registration was
	// removed (and its lease revoked).
	Registration bool `json:"registration_removed"`
	// EtcdMember is the hex ID of the embedded etcd member removed, if the
	// server ran one.
	EtcdMember string `json:"etcd_member_removed"`
}

// ServiceSummary is one service of the catalog with its instance counts.
type ServiceSummary struct {
	Name      string   `json:"name"`
	Namespace string   `json:"namespace"`
	Instances int      `json:"instances"`
	Healthy   int      `json:"healthy"`
	Tags      []string `json:"tags,omitempty"`
}

// FileInfo is one entry of an allocation's directory.
type FileInfo struct {
	Name    string    `json:"name"`
	IsDir   bool      `json:"is_dir"`
	Size    int64     `json:"size"`
	Mode    string    `json:"mode"`
	ModTime time.Time `json:"mod_time"`
}

// Indexes are the etcd revisions at which an object was created and last
// changed: what Nomad's API calls CreateIndex and ModifyIndex. The store
// sets them on every read; a stored copy's values mean nothing.
type Indexes struct {
	CreateIndex uint64 `json:"create_index,omitempty"`
	ModifyIndex uint64 `json:"modify_index,omitempty"`
}

// SetIndexes records the revisions an object was read at.
func (x *Indexes) SetIndexes(create, modify int64) {
	x.CreateIndex, x.ModifyIndex = uint64(max(create, 0)), uint64(max(modify, 0))
}

// Touched raises ModifyIndex to rev when a part of the object kept under
// another key (an allocation's status, a node's heartbeat) changed later.
func (x *Indexes) Touched(rev int64) {
	if rev > 0 && uint64(rev) > x.ModifyIndex {
		x.ModifyIndex = uint64(rev)
	}
}

// DefaultMaxCount is the largest count a group may ask for unless the
// servers are told otherwise (-max-count): one job must not be able to
// occupy the scheduler (docs/reliability.md).
const DefaultMaxCount = 100_000

// MaxCount is the largest count a group may ask for; servers set it from
// -max-count at start-up, before they serve.
var MaxCount = DefaultMaxCount

// NodePurgeResponse is the answer to a node purge: the evaluations of
// the jobs that had live allocations on the node.
type NodePurgeResponse struct {
	NodeID  string   `json:"node_id"`
	EvalIDs []string `json:"eval_ids"`
}
