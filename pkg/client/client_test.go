package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// A request the server answers 429 is sent again after its Retry-After,
// body and all, a bounded number of times.
func TestRequestsOverTheRateAreRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			if r.ContentLength <= 0 {
				t.Errorf("attempt %d came without its body", calls.Load()+1)
			}
		}
		if calls.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0.1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error": "slow down"}`))
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := New(srv.URL)
	if err := c.do(context.Background(), http.MethodPut, "/v1/jobs", nil, map[string]any{"job": map[string]any{"id": "x"}}, nil); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}

	calls.Store(-100) // always over the rate from now on
	err := c.do(context.Background(), http.MethodGet, "/v1/jobs", nil, nil, nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusTooManyRequests {
		t.Fatalf("after %d attempts: %v", maxRateRetries, err)
	}
	if n := calls.Load(); n != -100+maxRateRetries {
		t.Fatalf("%d attempts, want %d", n+100, maxRateRetries)
	}
}

// A server from before job sources refuses the submission field (its
// decoder allows no unknown field): the job goes again, alone.
func TestAServerWithoutSourcesGetsTheJobAlone(t *testing.T) {
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Job map[string]any `json:"job"`
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		err := dec.Decode(&req)
		bodies = append(bodies, fmt.Sprint(err))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		_, _ = w.Write([]byte(`{"result": "created", "job_id": "x"}`))
	}))
	defer srv.Close()
	resp, err := New(srv.URL).RegisterJobFrom(context.Background(), &api.Job{ID: "x"}, &api.JobSubmission{Source: "job \"x\" {}", Format: "hcl2"})
	if err != nil || resp.Result != "created" || len(bodies) != 2 || bodies[1] != "<nil>" {
		t.Fatalf("%+v %v; the server read: %v", resp, err, bodies)
	}
}
