package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"reflect"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// watchTarget is the API path and query of what `get -w` watches.
func watchTarget(g *globals, kind, name string, o *getOpts) (string, url.Values) {
	q := url.Values{}
	if g.namespace != "" {
		q.Set("namespace", g.namespace)
	}
	switch kind {
	case "jobs":
		if name != "" {
			return "/v1/job/" + url.PathEscape(name), q
		}
		return "/v1/jobs", q
	case "allocs":
		if name != "" {
			return "/v1/allocation/" + url.PathEscape(name), nil
		}
		for k, v := range map[string]string{"job": o.job, "node": o.node, "status": o.status} {
			if v != "" {
				q.Set(k, v)
			}
		}
		return "/v1/allocations", q
	case "nodes":
		if name != "" {
			return "/v1/node/" + url.PathEscape(name), nil
		}
		return "/v1/nodes", nil
	case "evals":
		if name != "" {
			return "/v1/evaluation/" + url.PathEscape(name), nil
		}
		if o.job != "" {
			q.Set("job", o.job)
		}
		return "/v1/evaluations", q
	case "deployments":
		if name != "" {
			return "/v1/deployment/" + url.PathEscape(name), nil
		}
		if o.job != "" {
			return "/v1/job/" + url.PathEscape(o.job) + "/deployments", q
		}
		return "/v1/deployments", q
	}
	if kind == "services" {
		if name != "" {
			return "/v1/service/" + url.PathEscape(name), q
		}
		return "/v1/services", nil
	}
	return "/v1/servers", nil
}

// decodeList decodes an answer into the typed list printTable prints, and
// the ID of each element.
func decodeList(kind string, raw json.RawMessage, single bool) (any, []string, error) {
	if single {
		raw = json.RawMessage("[" + string(raw) + "]")
	}
	var ids []string
	switch kind {
	case "jobs":
		var l []*api.Job
		err := json.Unmarshal(raw, &l)
		for _, x := range l {
			ids = append(ids, x.Namespace+"/"+x.ID)
		}
		return l, ids, err
	case "allocs":
		var l []*api.Allocation
		err := json.Unmarshal(raw, &l)
		for _, x := range l {
			ids = append(ids, x.ID)
		}
		return l, ids, err
	case "nodes":
		var l []*api.Node
		err := json.Unmarshal(raw, &l)
		for _, x := range l {
			ids = append(ids, x.ID)
		}
		return l, ids, err
	case "evals":
		var l []*api.Evaluation
		err := json.Unmarshal(raw, &l)
		for _, x := range l {
			ids = append(ids, x.ID)
		}
		return l, ids, err
	case "deployments":
		var l []*api.Deployment
		err := json.Unmarshal(raw, &l)
		for _, x := range l {
			ids = append(ids, x.ID)
		}
		return l, ids, err
	}
	if kind == "services" && single {
		var l []*api.ServiceRegistration
		// A service name lists its instances: unwrap the list.
		var inner []*api.ServiceRegistration
		err := json.Unmarshal(raw[1:len(raw)-1], &inner)
		l = inner
		for _, x := range l {
			ids = append(ids, x.ID)
		}
		return l, ids, err
	}
	if kind == "services" {
		var l []*api.ServiceSummary
		err := json.Unmarshal(raw, &l)
		for _, x := range l {
			ids = append(ids, x.Namespace+"/"+x.Name)
		}
		return l, ids, err
	}
	var l []*api.Server
	err := json.Unmarshal(raw, &l)
	for _, x := range l {
		ids = append(ids, x.Name)
	}
	return l, ids, err
}

// watch prints a list, then each object again whenever it changes, using
// blocking queries, until Ctrl-C.
func watch(ctx context.Context, g *globals, kind, name string, o *getOpts) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	path, q := watchTarget(g, kind, name, o)
	c := g.client()
	seen := map[string]string{}
	var index int64
	first := true
	for {
		var raw json.RawMessage
		next, err := c.Watch(ctx, path, q, index, 5*time.Minute, &raw)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		list, ids, err := decodeList(kind, raw, name != "")
		if err != nil {
			return err
		}
		// Print what is new or changed since the last answer.
		v := reflect.ValueOf(list)
		changed := reflect.MakeSlice(v.Type(), 0, v.Len())
		now := map[string]string{}
		for i := 0; i < v.Len(); i++ {
			b, _ := json.Marshal(v.Index(i).Interface())
			now[ids[i]] = string(b)
			if seen[ids[i]] != string(b) {
				changed = reflect.Append(changed, v.Index(i))
			}
		}
		if changed.Len() > 0 || first {
			if o.output == "json" || o.output == "yaml" {
				for i := 0; i < changed.Len(); i++ {
					b, _ := json.Marshal(changed.Index(i).Interface())
					fmt.Fprintln(g.out, string(b))
				}
			} else if err := printTable(g.out, changed.Interface(), o.output, first); err != nil {
				return err
			}
		}
		for id := range seen {
			if _, ok := now[id]; !ok {
				fmt.Fprintf(g.out, "%s deleted\n", id)
			}
		}
		seen, index, first = now, next, false
	}
}
