package jobspec

import (
	"fmt"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver/catalog"
)

// FromNomadAPI reads a job in the JSON form of Nomad's API — what
// Nomad's CLI and Go api package send to PUT /v1/jobs, every unset field
// null — into our API form, then canonicalizes and validates it like a
// job file. The problems name fields by their paths in our form.
func FromNomadAPI(src []byte) (*api.Job, error) {
	translated, err := translateNomad(src)
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
