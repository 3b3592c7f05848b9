package logdetect

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"github.com/firebreak-aiops/firebreak/detectors/logpatterns"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// ring is how many minutes a service and a template keep open at once: the
// newest minute and those still within Lateness (at most 2 minutes, so at
// most 3 are open).
const ring = 4

const minuteMs = 60_000

// Severity classes of a line.
const (
	sevInfo  uint8 = iota // everything below warn, and unknown
	sevWarn               // OpenTelemetry 13–16
	sevError              // 17 and above (error, fatal)
)

var sevNames = [...]string{"info", "warn", "error"}

// service is one service's state in one partition: its miner, its
// templates' rates and open minutes, its error rate. Everything in it is
// checkpointed (see checkpoint.go) except the bookkeeping marked so.
type service struct {
	name  string
	miner *logpatterns.Miner
	tmpls []*tmpl          // by the miner's cluster index; nil: folded away
	byID  map[uint64]int32 // live template id → cluster index
	live  int              // templates in tmpls

	firstMs  int64 // event time of the first line (of the warm-up)
	newestMs int64 // newest line's event time
	lines    int64 // lines mined since firstMs
	// lastOffset is the newest logs offset whose lines the service has
	// learned; skipThrough is its value at restore: records at or before
	// it are replays (not learned twice).
	lastOffset  int64
	skipThrough int64
	// closed is the newest closed minute (unix minutes): its counts are
	// published, later lines of it are late.
	closed  int64
	minutes [ring]svcMinute
	errRate rate

	// Not checkpointed.
	dirty  bool
	touch  uint64 // LRU clock
	chunks int    // chunks of its last checkpoint (surplus ones are tombstoned)
}

// svcMinute is a service's open minute.
type svcMinute struct {
	minute       int64 // unix minutes; 0: unused
	n, errs, wrn uint32
	touched      []int32 // templates with lines in it
	errSample    string  // first error or warning line
	errTemplate  uint64
}

// tmpl is one template of a service.
type tmpl struct {
	cluster int32
	id      uint64
	text    string
	firstMs int64
	sevMax  uint8 // the highest severity class seen
	lines   int64
	rate    rate
	slots   [ring]tmplMinute
}

type tmplMinute struct {
	minute       int64
	n, errs, wrn uint32
	sample       string
	sampleID     uint64
}

func newService(name string, cfg *Config) *service {
	return &service{name: name, miner: logpatterns.NewMiner(cfg.Miner), byID: map[uint64]int32{}, lastOffset: -1, skipThrough: -1}
}

// severityClass maps a line's severity to info, warn or error. Collectors
// set the number (from the text when a source has only text); a bare text
// is read here too.
func severityClass(num uint8, text []byte) uint8 {
	switch {
	case num >= 17:
		return sevError
	case num >= 13:
		return sevWarn
	case num > 0 || len(text) == 0:
		return sevInfo
	}
	for _, p := range [...]string{"err", "fatal", "crit", "alert", "emerg", "panic"} {
		if hasPrefixFold(text, p) {
			return sevError
		}
	}
	if hasPrefixFold(text, "warn") {
		return sevWarn
	}
	return sevInfo
}

// fatal: OpenTelemetry's FATAL range (21–24), or such a text without a
// number.
func fatal(num uint8, text []byte) bool {
	if num > 0 {
		return num >= 21
	}
	return hasPrefixFold(text, "fatal") || hasPrefixFold(text, "emerg") || hasPrefixFold(text, "panic") || hasPrefixFold(text, "alert")
}

func hasPrefixFold(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for i := range len(p) {
		if b[i]|0x20 != p[i] {
			return false
		}
	}
	return true
}

// observe mines one line of s. The line's fields point into the record.
func (p *partition) observe(s *service, e *records.LogEntryRef) {
	cfg := &p.stage.cfg
	if s.live >= cfg.MaxTemplates {
		p.resetService(s)
	}
	body := e.Body
	var content string
	if len(body) > 0 {
		// The miner keeps no reference to the line (it copies the words it
		// stores), so the record's bytes are used without a copy.
		content = unsafe.String(&body[0], len(body))
	}
	if cfg.HeaderFormat != nil {
		if c, ok := cfg.HeaderFormat.Content(content); ok {
			content = c
		}
	} else if !cfg.RawBody {
		content = logpatterns.StripHeader(content)
	}
	m := s.miner.Add(content)
	p.stage.metrics.lines.Inc()
	s.lines++
	s.dirty = true
	sev := severityClass(e.SeverityNumber, e.SeverityText)
	tsMs := e.TimeNs / 1e6
	if tsMs <= 0 {
		tsMs = max(s.newestMs, 1) // no time: the service's newest
	}
	if s.firstMs == 0 {
		s.firstMs = tsMs
	}

	// Keep the templates' state in step with the miner: its own
	// cluster's id may have changed (generalized), others may have
	// changed or folded into another.
	t := p.track(s, &m, tsMs, e)
	if len(m.Merged) > 0 {
		p.merged(s, &m, tsMs)
	}
	t.lines++
	t.sevMax = max(t.sevMax, sev)
	p.lineBuf.Add(s.name, e.ID, e.TimeNs, m.ID)

	// Minutes: the line's minute counts, then minutes the service's
	// event time has left behind (by Lateness) close.
	if tsMs > s.newestMs {
		s.newestMs = tsMs
		if tsMs > p.watermark {
			p.advanceWatermark(tsMs)
		}
	}
	p.count(s, t, tsMs/minuteMs, sev, e)
	p.closeThrough(s, (s.newestMs-cfg.Lateness.Milliseconds())/minuteMs-1)
}

// track returns the state of the line's template, creating it for a new
// template (which may be an anomaly) and following a change of its id.
func (p *partition) track(s *service, m *logpatterns.Match, tsMs int64, e *records.LogEntryRef) *tmpl {
	for int(m.Cluster) >= len(s.tmpls) {
		s.tmpls = append(s.tmpls, nil)
	}
	t := s.tmpls[m.Cluster]
	if t != nil {
		if t.id != m.ID {
			old := t.id
			delete(s.byID, old)
			t.id, t.text = m.ID, m.Template
			s.byID[m.ID] = t.cluster
			p.patternChanged(s, t, tsMs, []uint64{old})
		}
		return t
	}
	t = &tmpl{cluster: int32(m.Cluster), id: m.ID, text: m.Template, firstMs: tsMs}
	s.tmpls[m.Cluster] = t
	s.byID[m.ID] = t.cluster
	s.live++
	p.nTemplates.Add(1)
	p.stage.metrics.templates.Inc()
	if !m.New {
		// A template the miner knew but this state did not (a fold this
		// state attributed elsewhere): tracked from now on, not new.
		return t
	}
	p.stage.metrics.newTemplates.Inc()
	sev := severityClass(e.SeverityNumber, e.SeverityText)
	sample := string(e.Body)
	p.emitPattern(&records.Pattern{Kind: records.PatternNew, Service: s.name, TemplateID: t.id, Template: t.text,
		TimeMs: tsMs, FirstSeenMs: tsMs, Severity: sevNames[sev], Sample: sample, SampleEntryID: e.ID})
	if !p.warm(s, tsMs) {
		return t
	}
	if sib := p.variantOf(s, t, sev); sib != nil {
		// One word differs from a known template of the same severity or
		// worse: most likely a variable the miner has not seen vary enough
		// yet ("user alice" after "user bob"), not a new behaviour.
		p.stage.metrics.variants.Inc()
		return t
	}
	severity, score := "info", 0.5
	switch sev {
	case sevError:
		severity, score = "warning", 0.9
		if fatal(e.SeverityNumber, e.SeverityText) {
			severity, score = "critical", 1
		}
	case sevWarn:
		severity, score = "warning", 0.75
	}
	p.emitAnomaly(s, reasonNewTemplate, records.Anomaly{Metric: metricTemplate, TimeMs: tsMs, Value: 1, Score: score,
		Direction: "up", Rule: templateRule(t.id), Severity: severity},
		t, sample, sevNames[sev])
	return t
}

// warm reports whether a service is past its warm-up: only then is a new
// template news.
func (p *partition) warm(s *service, tsMs int64) bool {
	cfg := &p.stage.cfg
	return s.lines >= int64(cfg.WarmupLines) && tsMs-s.firstMs >= cfg.WarmupTime.Milliseconds()
}

// variantOf returns a template of s with the same word count that differs
// from t in exactly one word and has seen lines of severity sev or worse.
func (p *partition) variantOf(s *service, t *tmpl, sev uint8) *tmpl {
	for _, o := range s.tmpls {
		if o == nil || o == t || o.sevMax < sev {
			continue
		}
		if wordDiff(o.text, t.text, 2) == 1 {
			return o
		}
	}
	return nil
}

// wordDiff counts the positions where two texts' words differ, up to limit;
// texts of different word counts differ by limit.
func wordDiff(a, b string, limit int) int {
	d := 0
	for {
		wa, ra, oka := nextWord(a)
		wb, rb, okb := nextWord(b)
		if !oka || !okb {
			if oka != okb {
				return limit
			}
			return d
		}
		if wa != wb {
			if d++; d >= limit {
				return limit
			}
		}
		a, b = ra, rb
	}
}

func nextWord(s string) (w, rest string, ok bool) {
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return "", "", false
	}
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s, "", true
	}
	return s[:i], s[i:], true
}

// merged follows the templates whose ids the line's match made disappear:
// each generalized (same cluster, new id) or folded into another template.
// Their new template is the live one that covers their old text; folds go
// to the lowest cluster index, as the miner folds.
func (p *partition) merged(s *service, m *logpatterns.Match, tsMs int64) {
	type move struct {
		idx    int32
		old    uint64
		target logpatterns.Template
	}
	var moves []move
	var live []logpatterns.Template
	for _, old := range m.Merged {
		idx, ok := s.byID[old]
		if !ok || idx == int32(m.Cluster) {
			continue
		}
		if live == nil {
			live = s.miner.Templates()
		}
		t := s.tmpls[idx]
		target, ok := covering(live, t.text)
		if !ok {
			continue // the line that reaches it next will say
		}
		delete(s.byID, old)
		moves = append(moves, move{idx, old, target})
	}
	for _, mv := range moves {
		t := s.tmpls[mv.idx]
		keep, ok := s.byID[mv.target.ID]
		if mv.target.ID == m.ID {
			keep, ok = int32(m.Cluster), true
		}
		if !ok {
			// The lowest index among those moving to the same target keeps it.
			keep = mv.idx
			for _, o := range moves {
				if o.target.ID == mv.target.ID && o.idx < keep && s.tmpls[o.idx] != nil {
					keep = o.idx
				}
			}
		}
		if keep == mv.idx {
			t.id, t.text = mv.target.ID, mv.target.Text
			s.byID[t.id] = t.cluster
		} else {
			p.fold(s, t, s.tmpls[keep])
		}
		p.patternChanged(s, s.tmpls[keep], tsMs, []uint64{mv.old})
	}
}

// covering finds the live template whose text covers old (each <*> matches
// any run of characters), the most specific one when several do.
func covering(live []logpatterns.Template, old string) (logpatterns.Template, bool) {
	best, bestWild := -1, 1<<30
	for i, c := range live {
		if c.Text == old {
			return c, true
		}
		if globMatch(c.Text, old) {
			if w := strings.Count(c.Text, logpatterns.Wildcard); w < bestWild {
				best, bestWild = i, w
			}
		}
	}
	if best < 0 {
		return logpatterns.Template{}, false
	}
	return live[best], true
}

// globMatch reports whether s matches pattern, where each <*> in pattern
// matches any run of bytes.
func globMatch(pattern, s string) bool {
	const w = logpatterns.Wildcard
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case strings.HasPrefix(pattern[p:], w):
			p += len(w)
			star, mark = p, i
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			mark++
			p, i = star, mark
		default:
			return false
		}
	}
	for strings.HasPrefix(pattern[p:], w) {
		p += len(w)
	}
	return p == len(pattern)
}

// fold moves template t's state into dst (t was folded into it).
func (p *partition) fold(s *service, t, dst *tmpl) {
	dst.lines += t.lines
	dst.firstMs = min(dst.firstMs, t.firstMs)
	dst.sevMax = max(dst.sevMax, t.sevMax)
	if t.rate.mean > dst.rate.mean {
		dst.rate = t.rate
	}
	for _, sl := range t.slots {
		if sl.minute <= s.closed || sl.n == 0 {
			continue
		}
		d := &dst.slots[sl.minute%ring]
		if d.minute != sl.minute {
			*d = tmplMinute{minute: sl.minute, sample: sl.sample, sampleID: sl.sampleID}
			sm := &s.minutes[sl.minute%ring]
			sm.touched = append(sm.touched, dst.cluster)
		}
		d.n += sl.n
		d.errs += sl.errs
		d.wrn += sl.wrn
	}
	s.tmpls[t.cluster] = nil
	s.live--
	p.nTemplates.Add(-1)
	p.stage.metrics.templates.Dec()
}

// count adds the line to its minute, unless that minute is closed (a late
// line: mined and assigned, not counted in the minutes).
func (p *partition) count(s *service, t *tmpl, minute int64, sev uint8, e *records.LogEntryRef) {
	if minute <= s.closed {
		p.stage.metrics.late.Inc()
		return
	}
	if s.closed == 0 {
		s.closed = minute - 1
	}
	if minute-s.closed > ring {
		// Far ahead of the open minutes: close them first.
		p.closeThrough(s, minute-ring)
	}
	sm := &s.minutes[minute%ring]
	if sm.minute != minute {
		*sm = svcMinute{minute: minute, touched: sm.touched[:0]}
	}
	sm.n++
	tm := &t.slots[minute%ring]
	if tm.minute != minute {
		*tm = tmplMinute{minute: minute, sample: string(e.Body), sampleID: e.ID}
		sm.touched = append(sm.touched, t.cluster)
	}
	tm.n++
	switch sev {
	case sevError:
		sm.errs++
		tm.errs++
	case sevWarn:
		sm.wrn++
		tm.wrn++
	}
	if sev >= sevWarn && sm.errSample == "" {
		sm.errTemplate = t.id
		if sm.errSample = tm.sample; tm.n > 1 { // not this line's
			sm.errSample = string(e.Body)
		}
	}
}

// closeThrough closes every open minute of s up to minute upTo: publishes
// its pattern counts and judges its rates.
func (p *partition) closeThrough(s *service, upTo int64) {
	if upTo <= s.closed {
		return
	}
	for {
		var next *svcMinute
		for i := range s.minutes {
			sm := &s.minutes[i]
			if sm.minute > s.closed && sm.minute <= upTo && (next == nil || sm.minute < next.minute) {
				next = sm
			}
		}
		if next == nil {
			break
		}
		p.closeMinute(s, next)
	}
	s.closed = upTo
	s.dirty = true
}

func (p *partition) closeMinute(s *service, sm *svcMinute) {
	th := &p.stage.thresholds
	startMs := sm.minute * minuteMs
	for _, ci := range sm.touched {
		t := s.tmpls[ci]
		if t == nil {
			continue // folded: its counts moved
		}
		tm := &t.slots[sm.minute%ring]
		if tm.minute != sm.minute || tm.n == 0 {
			continue
		}
		p.emitPattern(&records.Pattern{Kind: records.PatternMinute, Service: s.name, TemplateID: t.id, Template: t.text,
			TimeMs: startMs, Count: int64(tm.n), Errors: int64(tm.errs), Warnings: int64(tm.wrn), FirstSeenMs: t.firstMs,
			Sample: tm.sample, SampleEntryID: tm.sampleID})
		v := t.rate.observe(sm.minute, float64(tm.n), th)
		if v.surge && p.warm(s, startMs) {
			severity := "info"
			if t.sevMax >= sevWarn || tm.errs+tm.wrn > 0 {
				severity = "warning"
			}
			p.emitAnomaly(s, reasonTemplateSurge, records.Anomaly{Metric: metricTemplate, TimeMs: startMs,
				Value: float64(tm.n), Expected: v.expected, Upper: v.upper, Score: v.score, Direction: "up",
				Rule: templateRule(t.id), Severity: severity}, t, tm.sample, sevNames[t.sevMax])
		}
		tm.sample = "" // release the line
	}
	bad := float64(sm.errs + sm.wrn)
	if v := s.errRate.observe(sm.minute, bad, th); v.surge && p.warm(s, startMs) {
		severity := "warning"
		if bad >= 10*max(v.expected, 1) && sm.errs > 0 {
			severity = "critical"
		}
		var t *tmpl
		if ci, ok := s.byID[sm.errTemplate]; ok {
			t = s.tmpls[ci]
		}
		p.emitAnomaly(s, reasonErrorSurge, records.Anomaly{Metric: metricErrors, TimeMs: startMs, Value: bad,
			Expected: v.expected, Upper: v.upper, Score: v.score, Direction: "up", Severity: severity},
			t, sm.errSample, "")
	}
	sm.minute, sm.errSample = 0, ""
	sm.touched = sm.touched[:0]
}

// open reports whether s has a minute not yet closed.
func (s *service) open() (oldest int64, ok bool) {
	for _, sm := range s.minutes {
		if sm.minute > s.closed && (!ok || sm.minute < oldest) {
			oldest, ok = sm.minute, true
		}
	}
	return oldest, ok
}

// resetService forgets s's templates (a service over MaxTemplates: its
// lines do not repeat, so templates only grow) and starts its warm-up
// again, so its templates are not all reported as new.
func (p *partition) resetService(s *service) {
	p.closeThrough(s, s.newestMs/minuteMs)
	p.stage.metrics.resets.Inc()
	p.stage.log.Warn("log service has more templates than allowed; its templates are relearned",
		"partition", p.id, "service", s.name, "templates", s.live)
	p.nTemplates.Add(-int64(s.live))
	p.stage.metrics.templates.Sub(float64(s.live))
	s.miner = logpatterns.NewMiner(p.stage.cfg.Miner)
	s.tmpls, s.live = nil, 0
	clear(s.byID)
	s.firstMs, s.lines = s.newestMs, 0
	s.dirty = true
}

// Anomaly reasons (the "reason" label) and metrics.
const (
	reasonNewTemplate   = "new_template"
	reasonTemplateSurge = "template_surge"
	reasonErrorSurge    = "error_surge"
	metricTemplate      = "log_template"
	metricErrors        = "log_errors"
)

// templateRule is a template id as the anomaly's rule: 16 hex digits.
func templateRule(id uint64) string {
	b := make([]byte, 0, 16)
	s := strconv.FormatUint(id, 16)
	for range 16 - len(s) {
		b = append(b, '0')
	}
	return string(append(b, s...))
}

// Label values are clipped: templates and lines can be long.
const maxLabel = 1024

func clip(s string) string {
	if len(s) <= maxLabel {
		return s
	}
	cut := maxLabel
	for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

// seriesID of a log-pattern anomaly: the alerter keeps one alert per
// series and rule, so per service (error surges) or service and template.
func seriesID(service string, templateID uint64) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.WriteString("logdetect\x00")
	d.WriteString(service)
	var b [8]byte
	for i := range b {
		b[i] = byte(templateID >> (8 * i))
	}
	d.Write(b[:])
	return d.Sum64()
}

// emitAnomaly fills a's service, labels and series and queues it.
func (p *partition) emitAnomaly(s *service, reason string, a records.Anomaly, t *tmpl, sample, severityText string) {
	a.Kind, a.State, a.Service = records.KindLogPattern, records.StateOpen, s.name
	a.Labels = map[string]string{"service": s.name, "reason": reason}
	var tid uint64
	if t != nil {
		tid = t.id
		a.Labels["template"] = clip(t.text)
		a.Labels["template_id"] = templateRule(t.id)
	}
	if reason == reasonErrorSurge {
		tid = 0 // one error-surge alert per service, whatever its template
	}
	if sample != "" {
		a.Labels["sample"] = clip(sample)
	}
	if severityText != "" {
		a.Labels["log_severity"] = severityText
	}
	a.SeriesID = seriesID(s.name, tid)
	p.queueAnomaly(&a, reason)
}

// patternChanged publishes that t's id replaced the ids in prev.
func (p *partition) patternChanged(s *service, t *tmpl, tsMs int64, prev []uint64) {
	s.dirty = true
	p.emitPattern(&records.Pattern{Kind: records.PatternChanged, Service: s.name, TemplateID: t.id, Template: t.text,
		TimeMs: tsMs, FirstSeenMs: t.firstMs, PrevIDs: prev})
}
