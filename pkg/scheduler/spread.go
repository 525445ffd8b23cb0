package scheduler

import (
	"math"
	"sort"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// cursor walks a list of node indexes from a random start with a random
// stride coprime to its length, visiting each once per round.
type cursor struct {
	nodes  []int
	start  int
	stride int
	k      int
}

func newCursor(nodes []int, p *planner) *cursor {
	c := &cursor{nodes: nodes, stride: 1}
	if n := len(nodes); n > 0 {
		c.start = p.rng.IntN(n)
		if n > 2 {
			for try := 0; try < 16; try++ {
				if st := 1 + p.rng.IntN(n-1); gcd(st, n) == 1 {
					c.stride = st
					break
				}
			}
		}
	}
	return c
}

func (c *cursor) next() int {
	i := c.nodes[(c.start+c.k*c.stride)%len(c.nodes)]
	c.k++
	return i
}

// values indexes the ready nodes of the state by the value of an
// attribute; it is built once per State and attribute.
func (st *State) values(attribute string) map[string][]int {
	if idx, ok := st.valueIdx[attribute]; ok {
		return idx
	}
	idx := map[string][]int{}
	for _, ns := range st.nodes {
		if !ready(ns.node) {
			continue
		}
		if v, ok := resolve(ns.node, attribute); ok {
			idx[v] = append(idx[v], ns.idx)
		}
	}
	if st.valueIdx == nil {
		st.valueIdx = map[string]map[string][]int{}
	}
	st.valueIdx[attribute] = idx
	return idx
}

// desiredPerValue is how many of count allocations each value of a spread
// attribute should get: its target share, the rest ("*") split evenly over
// the values without a target; or, with no targets, an even split over
// the values present. When targets leave a rest but every value present
// has a target, the targets are scaled up to share the whole count.
func desiredPerValue(sp *api.Spread, count int, values map[string][]int) map[string]float64 {
	out := map[string]float64{}
	if len(sp.Targets) == 0 {
		for v := range values {
			out[v] = float64(count) / float64(len(values))
		}
		return out
	}
	sum := 0
	for _, t := range sp.Targets {
		out[t.Value] = float64(count) * float64(t.Percent) / 100
		sum += t.Percent
	}
	var rest []string
	for v := range values {
		if _, named := out[v]; !named {
			rest = append(rest, v)
		}
	}
	switch {
	case sum < 100 && len(rest) > 0:
		share := float64(count) * float64(100-sum) / 100 / float64(len(rest))
		for _, v := range rest {
			out[v] = share
		}
	case sum < 100 && sum > 0:
		for v, d := range out {
			out[v] = d * 100 / float64(sum)
		}
	}
	return out
}

// selectBySpread chooses the value of the primary spread that is furthest
// below its desired count, then a node of that value; a value whose nodes
// are all full is skipped for the rest of the evaluation.
func (s *selector) selectBySpread(avoid string, m *api.AllocMetric) *nodeState {
	sp := s.primary
	for {
		best, bestGap := "", math.Inf(-1)
		for v, d := range sp.desired {
			if sp.full[v] || len(sp.values[v]) == 0 {
				continue
			}
			gap := d - float64(sp.counts[v])
			if gap > bestGap || (gap == bestGap && v < best) {
				best, bestGap = v, gap
			}
		}
		if best == "" {
			return nil
		}
		cur := sp.cursors[best]
		if cur == nil {
			cur = newCursor(sp.values[best], s.p)
			sp.cursors[best] = cur
		}
		if len(s.affinities) > 0 {
			// Within a value, affine nodes first.
			if ns := s.walk(s.affineIn(sp, best), avoid, m, nil); ns != nil {
				return ns
			}
		}
		if ns := s.walk(cur, avoid, m, nil); ns != nil {
			return ns
		}
		sp.full[best] = true
	}
}

// affinity is a node's affinity score in [-1, 1], computed once per node
// and State.
func (s *selector) affinity(ns *nodeState) float64 {
	e := s.aff
	if v := e.scores[ns.idx]; !math.IsNaN(v) {
		return v
	}
	var got, total float64
	for _, a := range s.affinities {
		w := float64(a.Weight)
		total += math.Abs(w)
		if s.p.st.match.match(ns.node, a.Attribute, a.Operator, a.Value) {
			got += w
		}
	}
	score := 0.0
	if total > 0 {
		score = got / total
	}
	e.scores[ns.idx] = score
	return score
}

// affineCursor walks the nodes with a positive affinity score. They are
// found once per State through the value index of each positive
// affinity's attribute: one match per value, not per node.
func (s *selector) affineCursor() *cursor {
	if s.affine != nil {
		return s.affine
	}
	e := s.aff
	if !e.listed {
		e.listed = true
		seen := map[int]bool{}
		for _, a := range s.affinities {
			if a.Weight <= 0 {
				continue
			}
			for _, idxs := range s.p.st.values(a.Attribute) {
				if len(idxs) == 0 || !s.p.st.match.match(s.p.st.nodes[idxs[0]].node, a.Attribute, a.Operator, a.Value) {
					continue
				}
				for _, i := range idxs {
					if !seen[i] {
						seen[i] = true
						if s.affinity(s.p.st.nodes[i]) > 0 {
							e.affine = append(e.affine, i)
						}
					}
				}
			}
		}
		sort.Ints(e.affine)
	}
	if len(e.affine) == 0 {
		return nil
	}
	s.affine = newCursor(e.affine, s.p)
	return s.affine
}

// affineIn walks the nodes of one value of the primary spread that have a
// positive affinity; the lists are kept with the affinity scores.
func (s *selector) affineIn(sp *spreadState, value string) *cursor {
	if c := sp.affine[value]; c != nil {
		return c
	}
	e := s.aff
	key := sp.attribute + "=" + value
	nodes, ok := e.byValue[key]
	if !ok {
		for _, i := range sp.values[value] {
			if s.affinity(s.p.st.nodes[i]) > 0 {
				nodes = append(nodes, i)
			}
		}
		if e.byValue == nil {
			e.byValue = map[string][]int{}
		}
		e.byValue[key] = nodes
	}
	if sp.affine == nil {
		sp.affine = map[string]*cursor{}
	}
	c := newCursor(nodes, s.p)
	sp.affine[value] = c
	return c
}
