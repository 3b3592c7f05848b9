// Package topology is the service dependency graph incidents are
// correlated on: declared in a file (services and what each depends on)
// and learned from observation (which service's anomalies lead another's).
// It answers the questions triage asks of a graph: how far apart two
// services are, what is upstream of a symptom, how much depends on a
// service (blast radius) and which services are single points of failure
// (articulation points).
package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"

	"gopkg.in/yaml.v3"
)

// File is the YAML topology file:
//
//	services:
//	  - name: checkout
//	    depends_on: [payment, inventory]
//	    user_facing: true
//	  - name: payment
//	    depends_on: [payment-db]
type File struct {
	Services []Service `yaml:"services"`
}

// Service is one node as declared.
type Service struct {
	Name       string   `yaml:"name"`
	DependsOn  []string `yaml:"depends_on"`
	UserFacing bool     `yaml:"user_facing"`
}

// Graph is an immutable dependency graph. An edge a → b means a depends on
// b (calls it): trouble in b shows up in a.
type Graph struct {
	names      []string       // sorted
	index      map[string]int // name → position in names
	deps       [][]int        // a → what a depends on
	dependents [][]int        // b → what depends on b
	userFacing []bool
}

// Load reads a topology file.
func Load(path string) (*Graph, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	g, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	return g, nil
}

// Parse builds a graph from a topology file's contents. Services named
// only as dependencies become nodes too.
func Parse(b []byte) (*Graph, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	seen := map[string]bool{}
	for i, s := range f.Services {
		if s.Name == "" {
			return nil, fmt.Errorf("service %d has no name", i+1)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("service %q declared twice", s.Name)
		}
		seen[s.Name] = true
		for _, d := range s.DependsOn {
			if d == s.Name {
				return nil, fmt.Errorf("service %q depends on itself", s.Name)
			}
		}
	}
	return New(f.Services), nil
}

// New builds a graph from services.
func New(services []Service) *Graph {
	set := map[string]bool{}
	for _, s := range services {
		set[s.Name] = true
		for _, d := range s.DependsOn {
			set[d] = true
		}
	}
	g := &Graph{index: map[string]int{}}
	for n := range set {
		g.names = append(g.names, n)
	}
	sort.Strings(g.names)
	for i, n := range g.names {
		g.index[n] = i
	}
	g.deps = make([][]int, len(g.names))
	g.dependents = make([][]int, len(g.names))
	g.userFacing = make([]bool, len(g.names))
	for _, s := range services {
		a := g.index[s.Name]
		g.userFacing[a] = g.userFacing[a] || s.UserFacing
		for _, d := range s.DependsOn {
			b := g.index[d]
			if !slices.Contains(g.deps[a], b) {
				g.deps[a] = append(g.deps[a], b)
				g.dependents[b] = append(g.dependents[b], a)
			}
		}
	}
	for i := range g.names {
		slices.Sort(g.deps[i])
		slices.Sort(g.dependents[i])
	}
	return g
}

// Services lists every node, sorted.
func (g *Graph) Services() []string { return slices.Clone(g.names) }

// Has reports whether the graph knows service.
func (g *Graph) Has(service string) bool { _, ok := g.index[service]; return ok }

// UserFacing reports whether users talk to service directly.
func (g *Graph) UserFacing(service string) bool {
	i, ok := g.index[service]
	return ok && g.userFacing[i]
}

// DependsOn lists what service calls directly.
func (g *Graph) DependsOn(service string) []string { return g.namesOf(g.deps, service) }

// Dependents lists what calls service directly.
func (g *Graph) Dependents(service string) []string { return g.namesOf(g.dependents, service) }

func (g *Graph) namesOf(adj [][]int, service string) []string {
	i, ok := g.index[service]
	if !ok {
		return nil
	}
	out := make([]string, len(adj[i]))
	for k, j := range adj[i] {
		out[k] = g.names[j]
	}
	return out
}

// Distance is the number of edges between a and b ignoring direction (how
// closely related two symptoms are); -1 when unrelated or unknown, 0 for
// the same service.
func (g *Graph) Distance(a, b string) int {
	ia, okA := g.index[a]
	ib, okB := g.index[b]
	if !okA || !okB {
		return -1
	}
	dist := g.bfs(ia, true)
	return dist[ib]
}

// CallDistance is the number of dependency edges on the shortest call
// path between a and b in either direction (a calls … b, or b calls … a);
// -1 when neither reaches the other, 0 for the same service. Unlike
// Distance, two services that only share a caller are unrelated: a
// problem in each is two problems.
func (g *Graph) CallDistance(a, b string) int {
	ia, okA := g.index[a]
	ib, okB := g.index[b]
	if !okA || !okB {
		return -1
	}
	d1, d2 := g.bfs(ia, false)[ib], g.bfs(ib, false)[ia]
	switch {
	case d1 < 0:
		return d2
	case d2 < 0:
		return d1
	}
	return min(d1, d2)
}

// Upstream reports whether b is (transitively) a dependency of a: trouble
// in b can explain a symptom in a.
func (g *Graph) Upstream(a, b string) bool {
	ia, okA := g.index[a]
	ib, okB := g.index[b]
	if !okA || !okB || ia == ib {
		return false
	}
	return g.bfs(ia, false)[ib] > 0
}

// bfs returns hop counts from start following dependencies (undirected:
// both ways); -1 where unreachable.
func (g *Graph) bfs(start int, undirected bool) []int {
	dist := make([]int, len(g.names))
	for i := range dist {
		dist[i] = -1
	}
	dist[start] = 0
	queue := []int{start}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		next := g.deps[n]
		if undirected {
			next = append(slices.Clone(next), g.dependents[n]...)
		}
		for _, m := range next {
			if dist[m] < 0 {
				dist[m] = dist[n] + 1
				queue = append(queue, m)
			}
		}
	}
	return dist
}

// BlastRadius is how many services depend on service, directly or not:
// what breaks when it breaks.
func (g *Graph) BlastRadius(service string) int {
	i, ok := g.index[service]
	if !ok {
		return 0
	}
	seen := make([]bool, len(g.names))
	stack := []int{i}
	n := 0
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range g.dependents[x] {
			if !seen[d] && d != i {
				seen[d] = true
				n++
				stack = append(stack, d)
			}
		}
	}
	return n
}

// ArticulationPoints are the services whose loss splits the graph
// (undirected): single points of failure. Sorted.
func (g *Graph) ArticulationPoints() []string {
	n := len(g.names)
	disc, low := make([]int, n), make([]int, n)
	for i := range disc {
		disc[i] = -1
	}
	isAP := make([]bool, n)
	t := 0
	var visit func(u, parent int)
	visit = func(u, parent int) {
		disc[u], low[u] = t, t
		t++
		children := 0
		for _, v := range append(slices.Clone(g.deps[u]), g.dependents[u]...) {
			switch {
			case disc[v] < 0:
				children++
				visit(v, u)
				low[u] = min(low[u], low[v])
				if parent >= 0 && low[v] >= disc[u] {
					isAP[u] = true
				}
			case v != parent:
				low[u] = min(low[u], disc[v])
			}
		}
		if parent < 0 && children > 1 {
			isAP[u] = true
		}
	}
	for i := 0; i < n; i++ {
		if disc[i] < 0 {
			visit(i, -1)
		}
	}
	var out []string
	for i, ap := range isAP {
		if ap {
			out = append(out, g.names[i])
		}
	}
	return out
}

// Node is one service as the API shows it.
type Node struct {
	Service     string   `json:"service"`
	DependsOn   []string `json:"depends_on"`
	Dependents  []string `json:"dependents"`
	UserFacing  bool     `json:"user_facing"`
	BlastRadius int      `json:"blast_radius"`
	// SinglePointOfFailure: an articulation point of the graph.
	SinglePointOfFailure bool `json:"single_point_of_failure"`
}

// Nodes describes every service, sorted by blast radius (largest first),
// then name: the key nodes come first.
func (g *Graph) Nodes() []Node {
	aps := g.ArticulationPoints()
	out := make([]Node, 0, len(g.names))
	for i, n := range g.names {
		out = append(out, Node{Service: n, DependsOn: g.DependsOn(n), Dependents: g.Dependents(n),
			UserFacing: g.userFacing[i], BlastRadius: g.BlastRadius(n),
			SinglePointOfFailure: slices.Contains(aps, n)})
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].BlastRadius > out[b].BlastRadius })
	return out
}
