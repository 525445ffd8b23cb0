package nomadapi

import (
	"net/http/httptest"
	"testing"

	napi "github.com/hashicorp/nomad/api"
)

// serveNomad serves s over HTTP for the test, with Nomad's api client of it.
func serveNomad(t *testing.T, s *Server) (*httptest.Server, *napi.Client) {
	t.Helper()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	c, err := napi.NewClient(&napi.Config{Address: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	return ts, c
}

// nomadClient is serveNomad's client alone.
func nomadClient(t *testing.T, s *Server) *napi.Client {
	t.Helper()
	_, c := serveNomad(t, s)
	return c
}
