// Package deploy holds the configuration that docker-compose.yml mounts into the
// third-party services (Alertmanager, Prometheus, Grafana). Its tests validate
// the compose file and those configurations without a Docker engine: with the
// compose-spec loader, Alertmanager's own config parser, structural checks of
// the Prometheus and Grafana files, and, where installed, docker-compose,
// promtool and amtool.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"
	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

const (
	// pluginID is the Grafana plugin id of the Firebreak data source.
	pluginID = "firebreak-aiops-datasource"
	// pluginDist is where the plugin is built, relative to the repository root.
	pluginDist = "grafana-plugin/dist"
	// httpPort is firebreak's default --http-addr port.
	httpPort = "8480"
)

// wantServices are the services docker-compose.yml must define, no more.
var wantServices = []string{"alertmanager", "clickhouse", "firebreak", "grafana", "kafka", "prometheus"}

// repoRoot returns the absolute path of the repository root (this package's parent).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// loadCompose loads docker-compose.yml as Docker Compose would, interpolating
// variables from env only (not from the process environment or an .env file),
// so that an empty env yields the file's defaults.
func loadCompose(t *testing.T, env ...string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithName("firebreak"),
		cli.WithEnv(env),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	project, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return project
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	svc, ok := p.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %q", name)
	}
	return svc
}

// envValue returns a service's environment variable after interpolation.
func envValue(t *testing.T, svc types.ServiceConfig, key string) string {
	t.Helper()
	v, ok := svc.Environment[key]
	if !ok || v == nil {
		t.Fatalf("service %s: environment variable %s is not set", svc.Name, key)
	}
	return *v
}

// flagValues maps each "--name" in args to the argument after it ("--name=value"
// is accepted too).
func flagValues(args []string) map[string]string {
	flags := map[string]string{}
	for i := 0; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "--")
		if !ok {
			continue
		}
		if k, v, found := strings.Cut(name, "="); found {
			flags[k] = v
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			flags[name] = args[i+1]
			i++
		} else {
			flags[name] = ""
		}
	}
	return flags
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	got := slices.Sorted(maps.Keys(p.Services))
	if !slices.Equal(got, wantServices) {
		t.Fatalf("services = %v, want %v", got, wantServices)
	}
}

// TestComposeImagesPinned: every service either is built from this repository
// or names an image by an explicit tag other than "latest".
func TestComposeImagesPinned(t *testing.T) {
	p := loadCompose(t)
	for name, svc := range p.Services {
		if svc.Build != nil {
			if svc.Build.Context != repoRoot(t) {
				t.Errorf("service %s: build context %q, want the repository root", name, svc.Build.Context)
			}
			continue
		}
		if err := checkPinnedImage(svc.Image); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
	}
	if service(t, p, "firebreak").Build == nil {
		t.Error("service firebreak must be built from this repository (build: .)")
	}
}

func checkPinnedImage(image string) error {
	if image == "" {
		return errors.New("neither image nor build is set")
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return fmt.Errorf("image %s: %w", image, err)
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return fmt.Errorf("image %s has no explicit tag", image)
	}
	if tagged.Tag() == "latest" {
		return fmt.Errorf("image %s uses the floating tag latest", image)
	}
	return nil
}

// TestComposeBindMounts: every host path mounted into a container exists in the
// repository, except the Grafana plugin's dist folder, which is built.
func TestComposeBindMounts(t *testing.T) {
	p := loadCompose(t)
	root := repoRoot(t)

	// service -> container path -> host path relative to the repository root.
	want := map[string]map[string]string{
		"alertmanager": {"/etc/alertmanager/alertmanager.yml": "deploy/alertmanager/alertmanager.yml"},
		"prometheus":   {"/etc/prometheus/prometheus.yml": "deploy/prometheus/prometheus.yml"},
		"grafana": {
			"/var/lib/grafana/plugins/" + pluginID: pluginDist,
			"/etc/grafana/provisioning":            "deploy/grafana/provisioning",
			// Only the generated folder: the provider would load package.json too.
			"/var/lib/grafana/dashboards/Firebreak": "dashboards/Firebreak",
		},
	}
	got := map[string]map[string]string{}

	for name, svc := range p.Services {
		for _, v := range svc.Volumes {
			if v.Type != types.VolumeTypeBind {
				if _, declared := p.Volumes[v.Source]; v.Type == types.VolumeTypeVolume && !declared {
					t.Errorf("service %s: volume %q is not declared under volumes:", name, v.Source)
				}
				continue
			}
			src := v.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(root, src)
			}
			rel, err := filepath.Rel(root, src)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				t.Errorf("service %s: bind mount %s is outside the repository", name, v.Source)
				continue
			}
			rel = filepath.ToSlash(rel)
			if got[name] == nil {
				got[name] = map[string]string{}
			}
			got[name][v.Target] = rel

			if !v.ReadOnly {
				t.Errorf("service %s: bind mount %s -> %s should be read-only", name, rel, v.Target)
			}
			if rel == pluginDist {
				// Built by the plugin's toolchain; only its place is checked.
				if name != "grafana" || v.Target != "/var/lib/grafana/plugins/"+pluginID {
					t.Errorf("%s is mounted at %s:%s, want grafana:/var/lib/grafana/plugins/%s",
						pluginDist, name, v.Target, pluginID)
				}
				continue
			}
			if _, err := os.Stat(src); err != nil {
				t.Errorf("service %s: bind-mounted host path %s does not exist: %v", name, rel, err)
			}
		}
	}

	for name, mounts := range want {
		for target, rel := range mounts {
			if got[name][target] != rel {
				t.Errorf("service %s: %s should be mounted from ./%s, got %q", name, target, rel, got[name][target])
			}
		}
	}
	for name, mounts := range got {
		for target, rel := range mounts {
			if want[name][target] == "" {
				t.Errorf("service %s: unexpected bind mount ./%s -> %s (add it to this test)", name, rel, target)
			}
		}
	}

	// Alertmanager reads the file it is told to read.
	am := flagValues(service(t, p, "alertmanager").Command)
	if am["config.file"] != "/etc/alertmanager/alertmanager.yml" {
		t.Errorf("alertmanager --config.file = %q, want the mounted /etc/alertmanager/alertmanager.yml", am["config.file"])
	}
}

func TestComposeFirebreak(t *testing.T) {
	p := loadCompose(t)
	fb := service(t, p, "firebreak")

	for _, dep := range []string{"kafka", "clickhouse"} {
		d, ok := fb.DependsOn[dep]
		if !ok {
			t.Errorf("firebreak does not depend on %s", dep)
			continue
		}
		if d.Condition != types.ServiceConditionHealthy {
			t.Errorf("firebreak depends on %s with condition %q, want %q", dep, d.Condition, types.ServiceConditionHealthy)
		}
		// service_healthy waits forever on a service without a healthcheck.
		hc := service(t, p, dep).HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 {
			t.Errorf("service %s has no healthcheck, so service_healthy never holds", dep)
		}
	}
	if fb.Restart != types.RestartPolicyUnlessStopped {
		t.Errorf("firebreak restart = %q, want %q", fb.Restart, types.RestartPolicyUnlessStopped)
	}

	if len(fb.Command) == 0 || fb.Command[0] != "run" {
		t.Fatalf("firebreak command = %q, want it to start with run", fb.Command)
	}
	flags := flagValues(fb.Command[1:])
	if flags["kafka-brokers"] != "kafka:9092" {
		t.Errorf("--kafka-brokers = %q, want kafka:9092", flags["kafka-brokers"])
	}
	// Every flag the compose file passes must be one `firebreak run` knows,
	// or the container exits at start.
	known := runFlags(t)
	for name := range flags {
		if !known[name] {
			t.Errorf("docker-compose passes --%s, which `firebreak run` does not have", name)
		}
	}
	if flags["http-addr"] != ":"+httpPort {
		t.Errorf("--http-addr = %q, want :%s", flags["http-addr"], httpPort)
	}
	if !publishes(fb, httpPort) {
		t.Errorf("firebreak does not publish port %s", httpPort)
	}

	// The DSN must carry the same credentials the ClickHouse service is created with.
	ch := service(t, p, "clickhouse")
	checkDSN(t, flags["clickhouse-dsn"], envValue(t, ch, "CLICKHOUSE_USER"), envValue(t, ch, "CLICKHOUSE_PASSWORD"))
	if db := envValue(t, ch, "CLICKHOUSE_DB"); db != "firebreak" {
		t.Errorf("clickhouse CLICKHOUSE_DB = %q, want firebreak", db)
	}
	if u := envValue(t, ch, "CLICKHOUSE_USER"); u != "firebreak" {
		t.Errorf("default CLICKHOUSE_USER = %q, want firebreak", u)
	}
	if ch.Ulimits["nofile"] == nil {
		t.Error("clickhouse has no nofile ulimit")
	}
}

// TestComposeEnvOverrides: values from the environment reach every service that
// needs them, consistently.
func TestComposeEnvOverrides(t *testing.T) {
	p := loadCompose(t,
		"CLICKHOUSE_USER=analyst",
		"CLICKHOUSE_PASSWORD=s3cret",
		"FIREBREAK_API_TOKEN=tok-123",
		"GRAFANA_ADMIN_PASSWORD=pw",
		"GRAFANA_ANONYMOUS=true",
	)
	fb := service(t, p, "firebreak")
	ch := service(t, p, "clickhouse")
	gf := service(t, p, "grafana")

	if got := envValue(t, ch, "CLICKHOUSE_USER"); got != "analyst" {
		t.Errorf("clickhouse CLICKHOUSE_USER = %q, want analyst", got)
	}
	checkDSN(t, flagValues(fb.Command)["clickhouse-dsn"], "analyst", "s3cret")
	// FIREBREAK_READ_TOKEN is --read-token (every flag reads FIREBREAK_<FLAG>).
	if got := envValue(t, fb, "FIREBREAK_READ_TOKEN"); got != "tok-123" {
		t.Errorf("firebreak FIREBREAK_READ_TOKEN = %q, want tok-123", got)
	}
	if got := envValue(t, gf, "FIREBREAK_API_TOKEN"); got != "tok-123" {
		t.Errorf("grafana FIREBREAK_API_TOKEN = %q, want tok-123", got)
	}
	if got := envValue(t, gf, "GF_SECURITY_ADMIN_PASSWORD"); got != "pw" {
		t.Errorf("grafana GF_SECURITY_ADMIN_PASSWORD = %q, want pw", got)
	}
	if got := envValue(t, gf, "GF_AUTH_ANONYMOUS_ENABLED"); got != "true" {
		t.Errorf("grafana GF_AUTH_ANONYMOUS_ENABLED = %q, want true", got)
	}
}

func checkDSN(t *testing.T, dsn, user, password string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Errorf("--clickhouse-dsn %q: %v", dsn, err)
		return
	}
	pw, _ := u.User.Password()
	if u.Scheme != "clickhouse" || u.Host != "clickhouse:9000" || u.Path != "/firebreak" ||
		u.User.Username() != user || pw != password {
		t.Errorf("--clickhouse-dsn = %q, want clickhouse://%s:%s@clickhouse:9000/firebreak", dsn, user, password)
	}
}

func publishes(svc types.ServiceConfig, port string) bool {
	for _, p := range svc.Ports {
		if p.Published == port && strconv.FormatUint(uint64(p.Target), 10) == port {
			return true
		}
	}
	return false
}

func TestComposeKafka(t *testing.T) {
	p := loadCompose(t)
	k := service(t, p, "kafka")
	want := map[string]string{
		"KAFKA_PROCESS_ROLES":             "broker,controller",
		"KAFKA_NODE_ID":                   "1",
		"KAFKA_CONTROLLER_QUORUM_VOTERS":  "1@kafka:9093",
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
	}
	for key, v := range want {
		if got := envValue(t, k, key); got != v {
			t.Errorf("kafka %s = %q, want %q", key, got, v)
		}
	}
	adv := strings.Split(envValue(t, k, "KAFKA_ADVERTISED_LISTENERS"), ",")
	for _, hostPort := range []string{"kafka:9092", "localhost:29092"} {
		if !slices.ContainsFunc(adv, func(l string) bool { return strings.HasSuffix(l, "://"+hostPort) }) {
			t.Errorf("kafka advertises %v, want a listener at %s", adv, hostPort)
		}
	}
	if !publishes(k, "29092") {
		t.Error("kafka does not publish the host listener port 29092")
	}
	if envValue(t, k, "CLUSTER_ID") == "" {
		t.Error("kafka CLUSTER_ID is empty")
	}
}

func TestComposeGrafana(t *testing.T) {
	p := loadCompose(t)
	g := service(t, p, "grafana")
	allowed := strings.Split(envValue(t, g, "GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"), ",")
	if !slices.Contains(allowed, pluginID) {
		t.Errorf("GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS = %v, want it to include %s", allowed, pluginID)
	}
	if got := envValue(t, g, "GF_AUTH_ANONYMOUS_ENABLED"); got != "false" {
		t.Errorf("anonymous access is %q by default, want false", got)
	}
	if envValue(t, g, "GF_SECURITY_ADMIN_PASSWORD") == "" {
		t.Error("grafana admin password has no default")
	}
	if _, ok := g.DependsOn["firebreak"]; !ok {
		t.Error("grafana does not depend on firebreak")
	}
	if !publishes(g, "3000") {
		t.Error("grafana does not publish port 3000")
	}
}

// TestAlertmanagerConfig parses the file with Alertmanager's own loader, which
// also validates it (receivers defined, matchers well formed, ...).
func TestAlertmanagerConfig(t *testing.T) {
	cfg, err := amconfig.LoadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatalf("alertmanager.yml: %v", err)
	}
	r := cfg.Route
	if r == nil {
		t.Fatal("alertmanager.yml has no route")
	}
	if r.Receiver != "firebreak" {
		t.Errorf("default receiver = %q, want firebreak", r.Receiver)
	}
	if want := []string{"alertname", "service", "severity"}; !slices.Equal(r.GroupByStr, want) {
		t.Errorf("group_by = %v, want %v", r.GroupByStr, want)
	}
	if r.GroupWait == nil || time.Duration(*r.GroupWait) != 30*time.Second {
		t.Errorf("group_wait = %v, want 30s", r.GroupWait)
	}
	if r.GroupInterval == nil || r.RepeatInterval == nil {
		t.Error("group_interval and repeat_interval should be set explicitly")
	}

	var webhook string
	for _, rcv := range cfg.Receivers {
		if rcv.Name != r.Receiver {
			continue
		}
		for _, wh := range rcv.WebhookConfigs {
			webhook = string(wh.URL)
			if !wh.SendResolved() {
				t.Error("firebreak webhook should receive resolved notifications")
			}
		}
	}
	if webhook != "http://firebreak:"+httpPort+"/api/v1/alertmanager/webhook" {
		t.Errorf("default receiver webhook = %q, want firebreak's /api/v1/alertmanager/webhook", webhook)
	}

	found := false
	for _, ir := range cfg.InhibitRules {
		if matchersString(ir.SourceMatchers) == `severity="critical"` &&
			matchersString(ir.TargetMatchers) == `severity="warning"` &&
			slices.Equal(slices.Sorted(slices.Values(ir.Equal)), []string{"alertname", "service"}) {
			found = true
		}
	}
	if !found {
		t.Errorf("no inhibit rule where severity=critical mutes severity=warning of the same alertname and service: %+v", cfg.InhibitRules)
	}
}

func matchersString[M interface{ String() string }](ms []M) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ",")
}

// prometheusConfig is the part of Prometheus' configuration this stack uses.
// Prometheus' own config package cannot be built here (a module it needs is not
// served), so the file is checked structurally, and with promtool when present.
type prometheusConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		ScrapeTimeout      string `yaml:"scrape_timeout"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	Alerting struct {
		Alertmanagers []struct {
			StaticConfigs []staticConfig `yaml:"static_configs"`
		} `yaml:"alertmanagers"`
	} `yaml:"alerting"`
	ScrapeConfigs []struct {
		JobName       string         `yaml:"job_name"`
		MetricsPath   string         `yaml:"metrics_path"`
		StaticConfigs []staticConfig `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
	RemoteWrite []struct {
		Name string `yaml:"name"`
		URL  string `yaml:"url"`
	} `yaml:"remote_write"`
}

type staticConfig struct {
	Targets []string `yaml:"targets"`
}

// prometheusTopLevel are the top-level keys Prometheus 3 accepts.
var prometheusTopLevel = []string{
	"global", "runtime", "alerting", "rule_files", "scrape_config_files", "scrape_configs",
	"storage", "tracing", "remote_write", "remote_read", "otlp",
}

func TestPrometheusConfig(t *testing.T) {
	const path = "prometheus/prometheus.yml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(data, &top); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for key := range top {
		if !slices.Contains(prometheusTopLevel, key) {
			t.Errorf("%s: unknown top-level key %q", path, key)
		}
	}
	var cfg prometheusConfig
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}

	interval, err1 := model.ParseDuration(cfg.Global.ScrapeInterval)
	timeout, err2 := model.ParseDuration(cfg.Global.ScrapeTimeout)
	_, err3 := model.ParseDuration(cfg.Global.EvaluationInterval)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Errorf("global durations: %v", err)
	} else if timeout > interval {
		t.Errorf("scrape_timeout %v exceeds scrape_interval %v", timeout, interval)
	}

	jobs := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		if _, dup := jobs[sc.JobName]; dup {
			t.Errorf("duplicate job_name %q", sc.JobName)
		}
		if sc.JobName == "firebreak" && sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("firebreak job metrics_path = %q, want /metrics", sc.MetricsPath)
		}
		jobs[sc.JobName] = []string{}
		for _, s := range sc.StaticConfigs {
			jobs[sc.JobName] = append(jobs[sc.JobName], s.Targets...)
		}
	}
	if !slices.Contains(jobs["firebreak"], "firebreak:"+httpPort) {
		t.Errorf("no job firebreak scraping firebreak:%s (jobs: %v)", httpPort, jobs)
	}
	if !slices.Contains(jobs["prometheus"], "localhost:9090") {
		t.Errorf("no job prometheus scraping localhost:9090 (jobs: %v)", jobs)
	}

	var remote []string
	for _, rw := range cfg.RemoteWrite {
		remote = append(remote, rw.URL)
	}
	if !slices.Contains(remote, "http://firebreak:"+httpPort+"/api/v1/write") {
		t.Errorf("remote_write urls = %v, want firebreak's /api/v1/write", remote)
	}

	var ams []string
	for _, am := range cfg.Alerting.Alertmanagers {
		for _, s := range am.StaticConfigs {
			ams = append(ams, s.Targets...)
		}
	}
	if !slices.Equal(ams, []string{"alertmanager:9093"}) {
		t.Errorf("alertmanagers = %v, want [alertmanager:9093]", ams)
	}

	// Every host:port target is a compose service (or Prometheus itself).
	p := loadCompose(t)
	for job, targets := range jobs {
		for _, target := range append(slices.Clone(targets), ams...) {
			host, _, err := net.SplitHostPort(target)
			if err != nil {
				t.Errorf("job %s: target %q: %v", job, target, err)
				continue
			}
			if _, ok := p.Services[host]; !ok && host != "localhost" {
				t.Errorf("job %s: target host %q is not a compose service", job, target)
			}
		}
	}
}

// TestGrafanaProvisioning checks the data source and dashboard provisioning files.
func TestGrafanaProvisioning(t *testing.T) {
	// Every key Grafana's data source provisioning accepts is listed, so that a
	// misspelt one fails the strict decoding below.
	var ds struct {
		APIVersion        int   `yaml:"apiVersion"`
		DeleteDatasources []any `yaml:"deleteDatasources"`
		Prune             bool  `yaml:"prune"`
		Datasources       []struct {
			Name              string            `yaml:"name"`
			Type              string            `yaml:"type"`
			UID               string            `yaml:"uid"`
			Access            string            `yaml:"access"`
			OrgID             int               `yaml:"orgId"`
			URL               string            `yaml:"url"`
			User              string            `yaml:"user"`
			Database          string            `yaml:"database"`
			BasicAuth         bool              `yaml:"basicAuth"`
			BasicAuthUser     string            `yaml:"basicAuthUser"`
			WithCredentials   bool              `yaml:"withCredentials"`
			IsDefault         bool              `yaml:"isDefault"`
			Version           int               `yaml:"version"`
			Editable          bool              `yaml:"editable"`
			JSONData          map[string]any    `yaml:"jsonData"`
			SecureJSONData    map[string]string `yaml:"secureJsonData"`
			Password          string            `yaml:"password"`
			BasicAuthPassword string            `yaml:"basicAuthPassword"`
		} `yaml:"datasources"`
	}
	decodeStrictly(t, "grafana/provisioning/datasources/firebreak.yaml", &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("datasources: apiVersion %d, %d data sources; want 1 and 1", ds.APIVersion, len(ds.Datasources))
	}
	d := ds.Datasources[0]
	if d.Access != "" && d.Access != "proxy" {
		t.Errorf("data source access = %q, want proxy (the backend plugin calls firebreak)", d.Access)
	}
	if d.Name != "Firebreak" || d.Type != pluginID || d.UID != "firebreak" || !d.IsDefault {
		t.Errorf("data source = name %q type %q uid %q default %v; want Firebreak, %s, firebreak, true",
			d.Name, d.Type, d.UID, d.IsDefault, pluginID)
	}
	if got := d.JSONData["url"]; got != "http://firebreak:"+httpPort {
		t.Errorf("jsonData.url = %v, want http://firebreak:%s", got, httpPort)
	}
	if got := d.JSONData["timeoutSeconds"]; got != 30 {
		t.Errorf("jsonData.timeoutSeconds = %v, want 30", got)
	}
	if got := d.SecureJSONData["apiToken"]; got != "$FIREBREAK_API_TOKEN" {
		t.Errorf("secureJsonData.apiToken = %q, want $FIREBREAK_API_TOKEN", got)
	}
	// Grafana expands $FIREBREAK_API_TOKEN from its own environment.
	p := loadCompose(t)
	// firebreak requires it as --read-token (FIREBREAK_READ_TOKEN).
	if envValue(t, service(t, p, "grafana"), "FIREBREAK_API_TOKEN") != envValue(t, service(t, p, "firebreak"), "FIREBREAK_READ_TOKEN") {
		t.Error("grafana's FIREBREAK_API_TOKEN and firebreak's FIREBREAK_READ_TOKEN have different defaults")
	}

	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			OrgID                 int    `yaml:"orgId"`
			Type                  string `yaml:"type"`
			Folder                string `yaml:"folder"`
			FolderUID             string `yaml:"folderUid"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeStrictly(t, "grafana/provisioning/dashboards/firebreak.yaml", &dash)
	if dash.APIVersion != 1 || len(dash.Providers) != 1 {
		t.Fatalf("dashboards: apiVersion %d, %d providers; want 1 and 1", dash.APIVersion, len(dash.Providers))
	}
	pr := dash.Providers[0]
	if pr.Type != "file" || pr.Options.Path != "/var/lib/grafana/dashboards" || !pr.Options.FoldersFromFilesStructure {
		t.Errorf("dashboard provider = %+v, want a file provider of /var/lib/grafana/dashboards with foldersFromFilesStructure", pr)
	}
	// Grafana refuses foldersFromFilesStructure together with a fixed folder.
	if pr.Folder != "" || pr.FolderUID != "" {
		t.Errorf("dashboard provider sets folder %q / folderUid %q together with foldersFromFilesStructure", pr.Folder, pr.FolderUID)
	}
}

// decodeStrictly decodes a YAML file into v, rejecting fields v does not know, so
// that a misspelt key fails here rather than being ignored by Grafana.
func decodeStrictly(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestDockerfile checks the properties of the image that compose relies on.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines and drop comments.
	var lines []string
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		lines = append(lines, cur.String())
		cur.Reset()
	}

	var froms []string
	final := map[string]string{} // instruction -> arguments, in the last stage
	var build string
	for _, l := range lines {
		instr, args, _ := strings.Cut(l, " ")
		instr = strings.ToUpper(instr)
		switch instr {
		case "FROM":
			froms = append(froms, strings.Fields(args)[0])
			final = map[string]string{}
		case "RUN":
			if strings.Contains(args, "go build") {
				build = args
			}
		}
		final[instr] = strings.TrimSpace(args)
	}

	if len(froms) != 2 {
		t.Fatalf("Dockerfile stages = %v, want a build and a runtime stage", froms)
	}
	for _, image := range froms {
		if err := checkPinnedImage(image); err != nil {
			t.Errorf("Dockerfile FROM: %v", err)
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/firebreak", "/out/firebreak"} {
		if !strings.Contains(build, want) {
			t.Errorf("Dockerfile go build %q lacks %s", build, want)
		}
	}
	if user := final["USER"]; user == "" || user == "root" || user == "0" || strings.HasPrefix(user, "0:") {
		t.Errorf("runtime stage runs as %q, want a non-root user", user)
	}
	if final["ENTRYPOINT"] != `["firebreak"]` || final["CMD"] != `["run"]` {
		t.Errorf(`ENTRYPOINT %s CMD %s, want ["firebreak"] and ["run"]`, final["ENTRYPOINT"], final["CMD"])
	}
	if exposed := strings.Fields(final["EXPOSE"]); len(exposed) == 0 || exposed[0] != httpPort {
		t.Errorf("EXPOSE %q, want the HTTP port %s first", final["EXPOSE"], httpPort)
	}
	for _, env := range []string{"FIREBREAK_OTLP_GRPC_ADDR=:4317", "FIREBREAK_SYSLOG_UDP_ADDR=:1514", "FIREBREAK_SYSLOG_TCP_ADDR=:1514"} {
		if !strings.Contains(final["ENV"], env) {
			t.Errorf("runtime stage ENV lacks %s: receivers would listen on loopback only", env)
		}
	}
	if !strings.Contains(final["ENV"], "FIREBREAK_HTTP_ADDR=:"+httpPort) {
		t.Errorf("runtime stage ENV %q does not listen on all interfaces (FIREBREAK_HTTP_ADDR=:%s)", final["ENV"], httpPort)
	}
	if !strings.Contains(final["HEALTHCHECK"], ":"+httpPort+"/healthz") {
		t.Errorf("HEALTHCHECK %q does not probe :%s/healthz", final["HEALTHCHECK"], httpPort)
	}
}

// TestComposeCLI validates docker-compose.yml with the Compose implementations
// installed here, if any (no Docker engine is needed for `config`).
func TestComposeCLI(t *testing.T) {
	root := repoRoot(t)
	// Defaults only: no variables from the developer's shell.
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}

	t.Run("docker-compose", func(t *testing.T) {
		bin, err := exec.LookPath("docker-compose")
		if err != nil {
			t.Skip("docker-compose is not on PATH (Debian: apt-get install --no-install-recommends docker-compose)")
		}
		runCompose(t, root, env, bin, "-f", "docker-compose.yml", "config", "-q")
	})
	t.Run("docker compose", func(t *testing.T) {
		bin, err := exec.LookPath("docker")
		if err != nil {
			t.Skip("docker is not on PATH")
		}
		probe := exec.CommandContext(t.Context(), bin, "compose", "version")
		probe.Env = env
		if out, err := probe.CombinedOutput(); err != nil {
			t.Skipf("docker has no compose plugin: %s", strings.TrimSpace(string(out)))
		}
		runCompose(t, root, env, bin, "compose", "-f", "docker-compose.yml", "config", "-q")
	})
}

func runCompose(t *testing.T, dir string, env []string, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Logf("%s: %s", bin, s)
	}
}

// TestConfigTools checks the configurations with promtool and amtool (skipped when
// they are missing, failed under FIREBREAK_REQUIRE_TOOLS=1). Debian's are older (Prometheus 2.42, Alertmanager 0.25) than the
// images; the files use only settings both versions know.
func TestConfigTools(t *testing.T) {
	for _, tc := range []struct {
		tool, pkg string
		args      []string
	}{
		{"promtool", "prometheus", []string{"check", "config", "prometheus/prometheus.yml"}},
		{"amtool", "prometheus-alertmanager", []string{"check-config", "alertmanager/alertmanager.yml"}},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			bin := testkit.Tool(t, tc.tool, tc.pkg)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if out, err := exec.CommandContext(ctx, bin, tc.args...).CombinedOutput(); err != nil {
				t.Fatalf("%s %s: %v\n%s", tc.tool, strings.Join(tc.args, " "), err, out)
			}
		})
	}
}

// runFlags lists the flags of `firebreak run`, from its --help.
func runFlags(t *testing.T) map[string]bool {
	t.Helper()
	out, _ := exec.Command("go", "run", "../cmd/firebreak", "run", "--help").CombinedOutput()
	known := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "--") {
			known[strings.Fields(line)[0][2:]] = true
		}
	}
	if !known["http-addr"] {
		t.Fatalf("could not read the flags of firebreak run --help:\n%s", out)
	}
	return known
}
