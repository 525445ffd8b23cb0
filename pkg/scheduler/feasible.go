package scheduler

import (
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/go-version"
	"github.com/nomadic-project/nomadic/pkg/api"
)

// resolve gives the value of a constraint operand on a node: text with
// ${attr.…}, ${node.…} or ${meta.…} interpolations replaced, or the text
// itself. ok is false when an interpolated value is not set on the node.
func resolve(n *api.Node, s string) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), true
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			b.WriteString(rest)
			return b.String(), true
		}
		v, ok := lookup(n, strings.TrimSpace(rest[i+2:i+j]))
		if !ok {
			return "", false
		}
		b.WriteString(rest[:i])
		b.WriteString(v)
		rest = rest[i+j+1:]
	}
}

// lookup reads one node property by its interpolation name.
func lookup(n *api.Node, name string) (string, bool) {
	switch name {
	case "node.unique.id":
		return n.ID, true
	case "node.unique.name":
		return n.Name, true
	case "node.datacenter":
		return n.Datacenter, true
	case "node.class":
		return n.NodeClass, n.NodeClass != ""
	case "node.pool":
		return n.NodePool, true
	}
	if k, ok := strings.CutPrefix(name, "attr."); ok {
		v, found := n.Attributes[k]
		return v, found
	}
	if k, ok := strings.CutPrefix(name, "meta."); ok {
		v, found := n.Meta[k]
		return v, found
	}
	return "", false
}

// regexps caches compiled constraint regexps; the scheduler is called
// concurrently by several workers, so the cache is per evaluation.
type regexpCache map[string]*regexp.Regexp

func (c regexpCache) get(expr string) *regexp.Regexp {
	if re, ok := c[expr]; ok {
		return re
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		re = nil
	}
	c[expr] = re
	return re
}

// versionCache caches parsed version constraints.
type versionCache map[string]version.Constraints

func (c versionCache) get(expr string) version.Constraints {
	if v, ok := c[expr]; ok {
		return v
	}
	v, err := version.NewConstraint(expr)
	if err != nil {
		v = nil
	}
	c[expr] = v
	return v
}

// matcher evaluates constraint and affinity operators on nodes.
type matcher struct {
	regexps  regexpCache
	versions versionCache
}

func newMatcher() *matcher {
	return &matcher{regexps: regexpCache{}, versions: versionCache{}}
}

// match reports whether node n satisfies attribute op value. The distinct
// operators are not decided here (they depend on the plan).
func (m *matcher) match(n *api.Node, attribute, op, value string) bool {
	l, lok := resolve(n, attribute)
	switch op {
	case api.ConstraintIsSet:
		return lok
	case api.ConstraintIsNotSet:
		return !lok
	case api.ConstraintDistinctHosts, api.ConstraintDistinctProperty:
		return true
	}
	r, rok := resolve(n, value)
	switch op {
	case api.ConstraintEqual, "", "==", "is":
		return lok && rok && l == r
	case api.ConstraintNotEqual, "not":
		return !(lok && rok && l == r)
	case api.ConstraintGreater, api.ConstraintGreaterEqual, api.ConstraintLess, api.ConstraintLessEqual:
		if !lok || !rok {
			return false
		}
		return compare(l, r, op)
	case api.ConstraintRegex:
		if !lok || !rok {
			return false
		}
		re := m.regexps.get(r)
		return re != nil && re.MatchString(l)
	case api.ConstraintVersion, api.ConstraintSemver:
		if !lok || !rok {
			return false
		}
		c := m.versions.get(r)
		if c == nil {
			return false
		}
		var v *version.Version
		var err error
		if op == api.ConstraintSemver {
			v, err = version.NewSemver(l)
		} else {
			v, err = version.NewVersion(l)
		}
		return err == nil && c.Check(v)
	case api.ConstraintSetContains, api.ConstraintSetContainsAll:
		if !lok || !rok {
			return false
		}
		have := set(l)
		for _, w := range strings.Split(r, ",") {
			if !have[strings.TrimSpace(w)] {
				return false
			}
		}
		return true
	case api.ConstraintSetContainsAny:
		if !lok || !rok {
			return false
		}
		have := set(l)
		for _, w := range strings.Split(r, ",") {
			if have[strings.TrimSpace(w)] {
				return true
			}
		}
		return false
	}
	return false
}

func set(s string) map[string]bool {
	out := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		out[strings.TrimSpace(p)] = true
	}
	return out
}

// compare orders two values numerically when both are numbers, else as
// strings.
func compare(l, r, op string) bool {
	lf, lerr := strconv.ParseFloat(l, 64)
	rf, rerr := strconv.ParseFloat(r, 64)
	var c int
	if lerr == nil && rerr == nil {
		switch {
		case lf < rf:
			c = -1
		case lf > rf:
			c = 1
		}
	} else {
		c = strings.Compare(l, r)
	}
	switch op {
	case api.ConstraintGreater:
		return c > 0
	case api.ConstraintGreaterEqual:
		return c >= 0
	case api.ConstraintLess:
		return c < 0
	}
	return c <= 0
}

func matchDatacenter(patterns []string, dc string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, err := path.Match(p, dc); err == nil && ok {
			return true
		}
	}
	return false
}

// describe renders a constraint for placement metrics.
func describe(c *api.Constraint) string {
	switch c.Operator {
	case api.ConstraintIsSet, api.ConstraintIsNotSet:
		return "constraint " + c.Attribute + " " + c.Operator
	case api.ConstraintDistinctHosts:
		return "distinct_hosts"
	case api.ConstraintDistinctProperty:
		return "distinct_property " + c.Attribute
	}
	op := c.Operator
	if op == "" {
		op = "="
	}
	return "constraint " + c.Attribute + " " + op + " " + c.Value
}
