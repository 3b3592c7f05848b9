package alerter

import (
	"fmt"
	"net/url"
	"time"

	"github.com/firebreak-aiops/firebreak/detectors/alerter/alertmanager"
	"github.com/firebreak-aiops/firebreak/detectors/topology"
)

// DefaultLabelAllowlist are the series labels an alert may carry, most
// useful first: those that say where the problem is (which host, pod,
// instance) and what part of it (disk, mount point, route). Anything else
// (ids, versions, every label of a high-cardinality series) stays in the
// dashboard the generatorURL links to.
var DefaultLabelAllowlist = []string{
	"instance", "job", "host", "pod", "namespace", "cluster", "region", "zone", "container",
	"mountpoint", "device", "path", "route", "handler", "method", "status", "code",
}

// sourceLabels are the allowlisted labels that describe a source rather
// than one of its series; a silence alert (one per source) carries only
// these.
var sourceLabels = map[string]bool{
	"instance": true, "job": true, "host": true, "pod": true, "namespace": true,
	"cluster": true, "region": true, "zone": true, "container": true,
}

// Config tunes the alerter. The zero value works: each field's default is
// documented beside it.
type Config struct {
	// AlertmanagerURLs are the Alertmanagers to page (base URLs such as
	// http://alertmanager:9093). Every alert goes to all of them (an HA
	// set deduplicates). Empty: alerts are decided and published to
	// firebreak.alerts but nobody is paged.
	AlertmanagerURLs []string
	// Alertmanager tunes the client: queue size, retries, timeouts.
	Alertmanager alertmanager.Options
	// GeneratorURL is the base URL of the dashboard an alert links to
	// (e.g. http://localhost:3000/d/firebreak-noc); var-service, from and
	// to are added. Empty: alerts carry no link.
	GeneratorURL string
	// ResendInterval: a firing alert is sent again this often, with
	// endsAt = now + 4 × ResendInterval, so the alerts of a firebreak that
	// died expire on their own. Default 1 m (Prometheus' resend delay).
	ResendInterval time.Duration
	// FirePoints and FireWindow: an anomaly alert fires once FirePoints
	// open events of one series arrived within FireWindow of event time.
	// Defaults 3 and 5 m.
	FirePoints int
	FireWindow time.Duration
	// FireScore: one open event scoring at least this fires at once.
	// Default 0.9.
	FireScore float64
	// CriticalScore: an anomaly scoring at least this is severity
	// critical (else warning). Default 0.99.
	CriticalScore float64
	// ResolveHold: a resolved event ends an anomaly alert only if no open
	// event of its problem follows within this long (hysteresis: a level
	// that keeps shifting is one problem, not a page every minute).
	// Default 2m; negative resolves at once.
	ResolveHold time.Duration
	// ResolveAfter: an anomaly alert without an open event for this long
	// (wall clock) resolves even if no resolved event came. Default 10 m.
	ResolveAfter time.Duration
	// StaleAfter: open events whose event time is older than now minus
	// this (a backfill, a replay of history) never page. Default 15 m.
	StaleAfter time.Duration
	// MaxLabels bounds how many series labels an alert carries, taken
	// from LabelAllowlist in its order. Default 6.
	MaxLabels int
	// LabelAllowlist: the series labels an alert may carry, in order of
	// preference. Default DefaultLabelAllowlist.
	LabelAllowlist []string
	// MaxPending bounds the series tracked while they gather points
	// towards FirePoints; beyond it new series wait until Tick frees room.
	// Default 100,000.
	MaxPending int
	// Graph is the service graph (--topology). While a service has a
	// firing anomaly alert or is silent, the anomaly, predictive and
	// log-pattern events of services depending on it (directly or not)
	// do not page: they are listed on its alert (annotation
	// dependents_affected) and still reach incidents. Nil: no dependency
	// suppression.
	Graph *topology.Graph
	// DependencyWindow: an anomaly alert holds back its dependents' events
	// within this much event time of its newest open event. Default 10 m.
	DependencyWindow time.Duration
	// ResumeGrace: once a silent source sends again, its anomaly events
	// within this much event time do not page (its baseline missed the
	// gap). Default 5 m.
	ResumeGrace time.Duration
	// GroupID is the Kafka consumer group. Default "firebreak-alerter";
	// alerters sharing it run one active member, the others stand by.
	GroupID string
}

func (c Config) withDefaults() Config {
	if c.ResendInterval <= 0 {
		c.ResendInterval = time.Minute
	}
	if c.FirePoints <= 0 {
		c.FirePoints = 3
	}
	if c.FireWindow <= 0 {
		c.FireWindow = 5 * time.Minute
	}
	if c.FireScore <= 0 {
		c.FireScore = 0.9
	}
	if c.CriticalScore <= 0 {
		c.CriticalScore = 0.99
	}
	if c.ResolveHold == 0 {
		c.ResolveHold = 2 * time.Minute
	}
	if c.ResolveAfter <= 0 {
		c.ResolveAfter = 10 * time.Minute
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = 15 * time.Minute
	}
	if c.MaxLabels <= 0 {
		c.MaxLabels = 6
	}
	if c.LabelAllowlist == nil {
		c.LabelAllowlist = DefaultLabelAllowlist
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 100_000
	}
	if c.ResumeGrace <= 0 {
		c.ResumeGrace = 5 * time.Minute
	}
	if c.DependencyWindow <= 0 {
		c.DependencyWindow = 10 * time.Minute
	}
	if c.GroupID == "" {
		c.GroupID = "firebreak-alerter"
	}
	return c
}

func (c Config) validate() error {
	if c.GeneratorURL != "" {
		u, err := url.Parse(c.GeneratorURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("alerter generator URL %q: want an absolute http(s) URL", c.GeneratorURL)
		}
	}
	for _, u := range c.AlertmanagerURLs {
		if _, err := alertmanager.AlertsURL(u); err != nil {
			return err
		}
	}
	return nil
}
