package nomadapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/jobspec"
)

// parseJob is Nomad's server-side parse (`Jobs().ParseHCL`, which
// Terraform's Nomad provider and other tools call instead of bundling a
// parser): the HCL job file of the body, with its variables file, into
// Nomad's JSON form of the job, with defaults (nomadic always applies
// them). A file with problems answers 400 with each at its line and
// column.
func (s *Server) parseJob(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		JobHCL       string
		Variables    string
		Canonicalize bool
		HCLv1        bool
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.JobHCL) == "" {
		return badRequest("JobHCL is empty: send the job file's text")
	}
	opts := &jobspec.Options{NoFiles: true}
	if body.Variables != "" {
		opts.VarFiles = map[string][]byte{"variables.hcl": []byte(body.Variables)}
	}
	job, err := jobspec.ParseWithOptions("job.hcl", []byte(body.JobHCL), opts)
	if err != nil {
		return badRequest("%v", err)
	}
	return s.reply(w, r, toJob(job, s.Region))
}

// JobValidateResponse is Nomad's answer to a validation.
type JobValidateResponse struct {
	DriverConfigValidated bool
	ValidationErrors      []string
	Error                 string
	Warnings              string
}

// validateJob is `nomad job validate`'s server side (PUT /v1/validate/job):
// the job in Nomad's JSON, checked as a registration would check it
// (driver configurations included), without registering it.
func (s *Server) validateJob(w http.ResponseWriter, r *http.Request) error {
	var body struct{ Job json.RawMessage }
	if err := decode(r, &body); err != nil {
		return err
	}
	if len(body.Job) == 0 || string(body.Job) == "null" {
		return badRequest("missing job")
	}
	out := &JobValidateResponse{DriverConfigValidated: true, ValidationErrors: []string{}}
	job, err := jobspec.FromNomadAPI(body.Job)
	var ve *api.ValidationError
	switch {
	case err == nil:
		out.Warnings = strings.Join(job.Warnings(), "\n")
	case errors.As(err, &ve):
		for _, p := range ve.Problems {
			out.ValidationErrors = append(out.ValidationErrors, p.String())
		}
		out.Error = err.Error()
	default:
		out.ValidationErrors = append(out.ValidationErrors, err.Error())
		out.Error = err.Error()
	}
	return s.reply(w, r, out)
}
