package jobspec

import (
	"encoding/json"
	"fmt"
	"reflect"

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
// copy of its group's restart policy (nomadic has the group's only; a
// task's own becomes the group's when the group has none), the Consul
// cluster named "default", and the default on_update of services and
// checks.
func dropNomadDefaults(job map[string]any) {
	for _, g := range asList(job["TaskGroups"]) {
		gm, _ := g.(map[string]any)
		if gm == nil {
			continue
		}
		for _, t := range asList(gm["Tasks"]) {
			tm, _ := t.(map[string]any)
			if tm == nil {
				continue
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
