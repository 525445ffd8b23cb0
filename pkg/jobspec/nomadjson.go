package jobspec

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Nomad's JSON job form (`nomad job run -output`, the /v1/jobs API) names
// fields in PascalCase and shapes a few blocks differently. translateNomad
// rewrites such a document into our API form, keeping the keys of free-form
// maps (config, env, meta) as they are. Fields the Nomad servers manage
// (indexes, status, versions) are dropped; null fields are dropped; anything
// else unknown stays and is refused by the strict decoder with its name.

// nomadKeys maps Nomad field names to ours where the snake_case of the name
// is not ours already.
var nomadKeys = map[string]string{
	"TaskGroups":          "groups",
	"MemoryMB":            "memory",
	"MemoryMaxMB":         "memory_max",
	"CPU":                 "cpu",
	"DiskMB":              "disk",
	"LTarget":             "attribute",
	"RTarget":             "value",
	"Operand":             "operator",
	"SpreadTarget":        "targets",
	"RestartPolicy":       "restart",
	"ReschedulePolicy":    "reschedule",
	"ParameterizedJob":    "parameterized",
	"LogConfig":           "logs",
	"MaxFileSizeMB":       "max_file_size",
	"SizeMB":              "size",
	"PortLabel":           "port",
	"GetterSource":        "source",
	"RelativeDest":        "destination",
	"GetterOptions":       "options",
	"GetterHeaders":       "headers",
	"ErrMissingKey":       "error_on_missing_key",
	"Uid":                 "uid",
	"Gid":                 "gid",
	"GetterMode":          "mode",
	"EmbeddedTmpl":        "data",
	"SourcePath":          "source",
	"DestPath":            "destination",
	"LeftDelim":           "left_delimiter",
	"RightDelim":          "right_delimiter",
	"Envvars":             "env",
	"Constraints":         "constraints",
	"ID":                  "id",
	"KillTimeout":         "kill_timeout",
	"Services":            "services",
	"Checks":              "checks",
	"Header":              "header",
	"MaxClientDisconnect": "max_client_disconnect",
	"TaskName":            "task",
}

// freeForm are maps whose keys belong to the user.
var freeForm = map[string]bool{"Config": true, "Env": true, "Meta": true, "GetterOptions": true, "Header": true, "GetterHeaders": true}

// serverManaged are fields of Nomad's job JSON that servers set; they mean
// nothing in a submission.
var serverManaged = map[string]bool{
	"Status": true, "StatusDescription": true, "Stable": true, "Version": true, "SubmitTime": true,
	"CreateIndex": true, "ModifyIndex": true, "JobModifyIndex": true, "Dispatched": true, "ParentID": true,
	"Stop": true, "NomadTokenID": true, "VaultNamespace": true, "ConsulNamespace": true, "Payload": false,
	// Fields older Nomads printed that have no effect in today's Nomad.
	"VaultGrace": true,
}

// keepFalse are booleans whose false is not their default: an explicit
// false must survive the dropping of zero values.
var keepFalse = map[string]bool{"Replace": true, "Enabled": true}

var camelBoundary = regexp.MustCompile(`([a-z0-9])([A-Z])`)

func snake(s string) string {
	if k, ok := nomadKeys[s]; ok {
		return k
	}
	return strings.ToLower(camelBoundary.ReplaceAllString(s, "${1}_${2}"))
}

// isNomadJSON reports whether a JSON document is in Nomad's form.
func isNomadJSON(top map[string]json.RawMessage) bool {
	if _, ok := top["Job"]; ok {
		return true
	}
	_, tg := top["TaskGroups"]
	return tg
}

func translateNomad(src []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	job, ok := doc["Job"].(map[string]any)
	if !ok {
		job = doc
	}
	out := translateValue("Job", job)
	m := out.(map[string]any)
	for _, g := range asList(m["groups"]) {
		gm, _ := g.(map[string]any)
		if gm == nil {
			continue
		}
		translateNetworks(gm)
		for _, t := range asList(gm["tasks"]) {
			if tm, _ := t.(map[string]any); tm != nil {
				// Nomad puts networks under task resources too (old form).
				if r, _ := tm["resources"].(map[string]any); r != nil {
					if _, has := r["networks"]; has {
						if _, groupHas := gm["network"]; !groupHas {
							gm["networks"] = r["networks"]
							translateNetworks(gm)
						}
						delete(r, "networks")
					}
				}
				if _, has := tm["vault"]; !has && m["vault"] != nil {
					tm["vault"] = m["vault"]
				}
				translateIdentities(tm)
				if c, _ := tm["consul"].(map[string]any); c != nil && len(c) <= 1 && (c["cluster"] == nil || c["cluster"] == "default") {
					delete(tm, "consul") // Nomad spells out the default
				}
			}
		}
		if sc, _ := gm["scaling"].(map[string]any); sc != nil {
			for _, k := range []string{"id", "type", "target", "namespace"} {
				delete(sc, k)
			}
		}
		if vols, ok := gm["volumes"].(map[string]any); ok {
			for name, v := range vols {
				if vm, _ := v.(map[string]any); vm != nil {
					vm["name"] = name
				}
			}
		}
	}
	delete(m, "vault")
	if p, _ := m["periodic"].(map[string]any); p != nil {
		var crons []any
		if spec, ok := p["spec"].(string); ok && spec != "" {
			crons = append(crons, spec)
		}
		crons = append(crons, asList(p["specs"])...)
		delete(p, "spec")
		delete(p, "specs")
		delete(p, "spec_type")
		p["crons"] = crons
	}
	return json.Marshal(out)
}

// isZero reports whether a JSON value is null or empty. Nomad's output
// spells out every field; a zero one means the same as an absent one here.
func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case float64:
		return x == 0
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func translateValue(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		if freeForm[key] {
			return x
		}
		out := map[string]any{}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val := x[k]
			if (isZero(val) && !(keepFalse[k] && val == false)) || serverManaged[k] {
				continue
			}
			if key == "Volumes" {
				out[k] = translateValue("Volume", val)
				continue
			}
			out[snake(k)] = translateValue(k, val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = translateValue(key, e)
		}
		return out
	}
	return v
}

// translateNetworks turns Nomad's list of networks with reserved and
// dynamic ports into our single network with ports.
func translateNetworks(g map[string]any) {
	nets := asList(g["networks"])
	delete(g, "networks")
	if len(nets) == 0 {
		return
	}
	n, _ := nets[0].(map[string]any)
	if n == nil {
		return
	}
	net := map[string]any{}
	if mode, ok := n["mode"]; ok {
		net["mode"] = mode
	}
	if h, ok := n["hostname"]; ok {
		net["hostname"] = h
	}
	var ports []any
	for _, kind := range []string{"reserved_ports", "dynamic_ports"} {
		for _, p := range asList(n[kind]) {
			pm, _ := p.(map[string]any)
			if pm == nil {
				continue
			}
			port := map[string]any{"label": pm["label"]}
			if kind == "reserved_ports" {
				port["static"] = pm["value"]
			}
			if to, ok := pm["to"]; ok && fmt.Sprint(to) != "0" {
				port["to"] = to
			}
			if hn, ok := pm["host_network"]; ok && hn != "" && hn != "default" {
				port["host_network"] = hn
			}
			ports = append(ports, port)
		}
	}
	if len(ports) > 0 {
		net["ports"] = ports
	}
	g["network"] = net
}

// translateIdentities turns Nomad's identity (the default one, spelled out
// in every task) and identities into ours: only identities that ask for
// something are kept, with Nomad's "Audience" as "aud".
func translateIdentities(task map[string]any) {
	var out []any
	add := func(v any) {
		id, _ := v.(map[string]any)
		if id == nil {
			return
		}
		if a, ok := id["audience"]; ok {
			id["aud"] = a
			delete(id, "audience")
		}
		delete(id, "service_name")
		if id["env"] == true || id["file"] == true || (id["name"] != nil && id["name"] != "default") {
			out = append(out, id)
		}
	}
	add(task["identity"])
	for _, id := range asList(task["identities"]) {
		add(id)
	}
	delete(task, "identity")
	delete(task, "identities")
	if len(out) > 0 {
		task["identities"] = out
	}
}
