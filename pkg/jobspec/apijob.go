package jobspec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver/catalog"
)

// FromNomadAPI reads a job in the JSON form of Nomad's API — what
// Nomad's CLI and Go api package send to PUT /v1/jobs, every unset field
// null — into our API form, then canonicalizes and validates it like a
// job file. The problems name fields by their paths in our form.
func FromNomadAPI(src []byte) (*api.Job, error) {
	var doc map[string]any
	if err := json.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("reading the job: %w", err)
	}
	dropNomadDefaults(doc)
	norm, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("reading the job: %w", err)
	}
	translated, err := translateNomad(norm)
	if err != nil {
		return nil, fmt.Errorf("reading the job: %w", err)
	}
	var job api.Job
	if err := strictJSON(translated, &job); err != nil {
		return nil, fmt.Errorf("reading the job: %w", err)
	}
	job.Canonicalize()
	if err := catalog.ValidateJob(&job); err != nil {
		return nil, err
	}
	return &job, nil
}

// dropNomadDefaults removes what Nomad's api package fills in when it
// canonicalizes a job and nomadic keeps elsewhere or not at all: a task's
// copy of its group's restart policy (nomadic keeps a task's own only
// where it differs from its group's; a task's own becomes the group's
// when the group has none), the Consul
// cluster named "default", and the default on_update of services and
// checks.
func dropNomadDefaults(job map[string]any) {
	// all_at_once is deprecated in Nomad and has no effect there either.
	delete(job, "AllAtOnce")
	typ, _ := job["Type"].(string)
	if typ == "" {
		typ = api.JobTypeService
	}
	if p, _ := job["Periodic"].(map[string]any); p != nil && p["Enabled"] == nil {
		// Nomad's default: a periodic block is enabled.
		p["Enabled"] = true
	}
	for _, g := range asList(job["TaskGroups"]) {
		gm, _ := g.(map[string]any)
		if gm == nil {
			continue
		}
		if gm["Count"] == nil {
			// Nomad's servers count a group without one as 1 (or its
			// scaling minimum).
			gm["Count"] = 1.0
			if sc, _ := gm["Scaling"].(map[string]any); sc != nil && sc["Min"] != nil {
				gm["Count"] = sc["Min"]
			}
		}
		if sc, _ := gm["Scaling"].(map[string]any); sc != nil {
			// Nomad's servers canonicalize a policy: enabled unless
			// it says not, its minimum the group's count.
			if sc["Enabled"] == nil {
				sc["Enabled"] = true
			}
			if sc["Min"] == nil {
				sc["Min"] = gm["Count"]
			}
		}
		fillPartial(gm["RestartPolicy"], restartDefaults(typ))
		fillPartial(gm["ReschedulePolicy"], rescheduleDefaults(typ))
		fillPartial(gm["EphemeralDisk"], map[string]any{"SizeMB": float64(api.DefaultDiskMB)})
		if d, _ := gm["Disconnect"].(map[string]any); d != nil {
			// Nomad's stop_on_client_after is nomadic's stop_after.
			if v, ok := d["StopOnClientAfter"]; ok {
				d["StopAfter"] = v
				delete(d, "StopOnClientAfter")
			}
		}
		if v := gm["StopAfterClientDisconnect"]; v != nil {
			d, _ := gm["Disconnect"].(map[string]any)
			if d == nil {
				d = map[string]any{}
				gm["Disconnect"] = d
			}
			if d["StopAfter"] == nil {
				d["StopAfter"] = v
			}
		}
		delete(gm, "StopAfterClientDisconnect")
		groupConsul := gm["Consul"]
		delete(gm, "Consul")
		for _, t := range asList(gm["Tasks"]) {
			tm, _ := t.(map[string]any)
			if tm == nil {
				continue
			}
			// nomadic keeps a Consul block per task: a group's is its
			// tasks'.
			if groupConsul != nil && tm["Consul"] == nil {
				tm["Consul"] = groupConsul
			}
			if rp, ok := tm["RestartPolicy"]; ok {
				if gm["RestartPolicy"] == nil {
					gm["RestartPolicy"] = rp
				} else if !reflect.DeepEqual(rp, gm["RestartPolicy"]) && rp != nil {
					// Different per task: the group's stays; say so by
					// keeping the field, which the decoder names.
					continue
				}
				delete(tm, "RestartPolicy")
			}
			dropServiceDefaults(tm["Services"])
			if lc, _ := tm["LogConfig"].(map[string]any); lc != nil {
				if en, ok := lc["Enabled"].(bool); ok {
					lc["Disabled"] = !en
				}
				delete(lc, "Enabled")
				fillPartial(lc, map[string]any{"MaxFiles": 10.0, "MaxFileSizeMB": 10.0})
			}
		}
		dropServiceDefaults(gm["Services"])
	}
}

func dropServiceDefaults(services any) {
	for _, s := range asList(services) {
		sm, _ := s.(map[string]any)
		if sm == nil {
			continue
		}
		if sm["Cluster"] == "default" {
			delete(sm, "Cluster")
		}
		if sm["OnUpdate"] == "require_healthy" {
			delete(sm, "OnUpdate")
		}
		for _, c := range asList(sm["Checks"]) {
			if cm, _ := c.(map[string]any); cm != nil && cm["OnUpdate"] == "require_healthy" {
				delete(cm, "OnUpdate")
			}
		}
	}
}

// fillPartial sets the fields of a block a submitter left null (or out)
// to Nomad's defaults, as Nomad's servers merge a partial block with them;
// a block that is not given is left alone (the job's canonicalization
// fills it whole).
func fillPartial(block any, defaults map[string]any) {
	m, _ := block.(map[string]any)
	if m == nil {
		return
	}
	for k, v := range defaults {
		if m[k] == nil {
			m[k] = v
		}
	}
}

func nanosOf(d time.Duration) float64 { return float64(d) }

func restartDefaults(typ string) map[string]any {
	r := api.DefaultRestart(typ)
	return map[string]any{"Attempts": float64(r.Attempts), "Interval": nanosOf(r.Interval.Std()),
		"Delay": nanosOf(r.Delay.Std()), "Mode": r.Mode}
}

func rescheduleDefaults(typ string) map[string]any {
	r := api.DefaultReschedule(typ)
	if r == nil {
		return nil
	}
	return map[string]any{"Attempts": float64(r.Attempts), "Interval": nanosOf(r.Interval.Std()),
		"Delay": nanosOf(r.Delay.Std()), "DelayFunction": r.DelayFunction, "MaxDelay": nanosOf(r.MaxDelay.Std()),
		"Unlimited": r.Unlimited}
}
