package variables

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// MaxJobSourceBytes is the largest job file (with its variables) kept as
// the source of a job version; a larger one is not kept, and the
// registration says so. Nomad's default job_max_source_size is 1 MB, but
// a request (the job and its file) has 1 MiB here, so half is the file's.
const MaxJobSourceBytes = 512 << 10

// sourceVariables are a submission's variables as sealed.
type sourceVariables struct {
	Flags map[string]string `json:"flags,omitempty"`
	File  string            `json:"file,omitempty"`
}

// sourceAAD binds sealed variables to their job.
func sourceAAD(ns, job string) []byte { return []byte("jobsource/" + ns + "/" + job) }

// KeepJobSource is what of a registration's submission is kept: the file,
// and its variables sealed under svc's keyring's active key (they may
// hold secrets; svc nil: no keyring, and they are not kept). The string
// is a warning for what was not kept.
func KeepJobSource(svc *Service, ns, job string, sub *api.JobSubmission) (*store.JobSource, string) {
	if sub == nil || sub.Source == "" {
		return nil, ""
	}
	size := len(sub.Source) + len(sub.Variables)
	for k, v := range sub.VariableFlags {
		size += len(k) + len(v)
	}
	if size > MaxJobSourceBytes {
		return nil, fmt.Sprintf("The job's source (%d bytes with its variables) is over the %d bytes kept for a job version: it was not kept.", size, MaxJobSourceBytes)
	}
	src := &store.JobSource{Source: sub.Source, Format: sub.Format}
	if len(sub.VariableFlags) == 0 && sub.Variables == "" {
		return src, ""
	}
	src.VariablesNotKept = true
	if svc == nil || svc.Keyring == nil {
		return src, "The job's variables were not kept with its source: this server has no keyring to seal them with."
	}
	plain, err := json.Marshal(sourceVariables{Flags: sub.VariableFlags, File: sub.Variables})
	if err != nil {
		return src, fmt.Sprintf("The job's variables were not kept with its source: %v.", err)
	}
	id, sealed, err := svc.Keyring.Seal(plain, sourceAAD(ns, job))
	if err != nil {
		return src, fmt.Sprintf("The job's variables were not kept with its source: %v.", err)
	}
	src.VariablesNotKept = false
	src.KeyID, src.SealedVariables = id, sealed
	return src, ""
}

// JobSourceVariables opens a kept source's variables: the -var values
// and the -var-file contents. missing is set when the submission had
// variables that cannot be given: they were not kept, or cannot be opened
// (svc has no keyring, or their key is no longer in it).
func JobSourceVariables(ctx context.Context, svc *Service, src *store.JobSource) (flags map[string]string, file string, missing bool) {
	if src.VariablesNotKept {
		return nil, "", true
	}
	if src.KeyID == "" {
		return nil, "", false
	}
	if svc == nil || svc.Keyring == nil {
		return nil, "", true
	}
	plain, err := svc.Keyring.Open(ctx, src.KeyID, src.SealedVariables, sourceAAD(src.Namespace, src.JobID))
	if err != nil {
		return nil, "", true
	}
	var v sourceVariables
	if json.Unmarshal(plain, &v) != nil {
		return nil, "", true
	}
	return v.Flags, v.File, false
}
