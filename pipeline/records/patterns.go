package records

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
)

// Topics of the log-pattern detector (detectors/logdetect). Both are
// partitioned like firebreak.logs: a record is pinned (HeaderPartition)
// to the number of the logs partition whose lines it describes.
const (
	// TopicPatterns carries Pattern records (JSON): per service and
	// template, a minute's counts, a new template, or a template's new id.
	TopicPatterns = "firebreak.patterns"
	// TopicLogTemplates carries LogTemplateBatch records (binary): the
	// template id of every mined log line, by entry id, so a stored line
	// joins to its template.
	TopicLogTemplates = "firebreak.log-templates"
)

// PatternTopics are the log-pattern outputs the writer stores.
var PatternTopics = []string{TopicPatterns, TopicLogTemplates}

// Pattern record kinds.
const (
	// PatternMinute: a template's lines in one minute of event time, as
	// one logs partition saw them (a service whose streams span partitions
	// has one record per partition: add them up).
	PatternMinute = "minute"
	// PatternNew: a template's first line in a service (first_seen).
	PatternNew = "new"
	// PatternChanged: a template generalized or absorbed others; PrevIDs
	// are the ids it replaces (lines stored under them now belong to it).
	PatternChanged = "changed"
)

// patternVersion is the "v" of Pattern records.
const patternVersion = 1

// Pattern is one log-template record. Volume is per template per minute,
// so it is JSON, readable with kcat.
type Pattern struct {
	Version    int    `json:"v"`
	Kind       string `json:"kind"` // minute, new, changed
	Service    string `json:"service"`
	TemplateID uint64 `json:"template_id"`
	Template   string `json:"template"`
	// Partition is the logs partition whose lines the record counts.
	Partition int `json:"partition"`
	// TimeMs: minute: the minute's start; new: the first line's time;
	// changed: the time of the line that changed the template.
	TimeMs int64 `json:"time_ms"`
	// Minute counts: all lines, error and fatal lines (severity number
	// 17 or more), warnings (13–16).
	Count    int64 `json:"count,omitempty"`
	Errors   int64 `json:"errors,omitempty"`
	Warnings int64 `json:"warnings,omitempty"`
	// FirstSeenMs is when the service first logged the template.
	FirstSeenMs int64 `json:"first_seen_ms"`
	// Severity (new) is the first line's class: error, warn or info.
	Severity string `json:"severity,omitempty"`
	// Sample is one line of the template (minute: the minute's first;
	// new: the first ever), with its entry id.
	Sample        string   `json:"sample,omitempty"`
	SampleEntryID uint64   `json:"sample_entry_id,omitempty"`
	PrevIDs       []uint64 `json:"prev_ids,omitempty"`
}

// Key is the template id, big-endian (records are pinned to their
// partition by HeaderPartition, not by the key).
func (p *Pattern) Key() []byte { return appendKey(nil, p.TemplateID) }

// EncodePattern renders a record value.
func EncodePattern(p *Pattern) ([]byte, error) {
	p.Version = patternVersion
	return json.Marshal(p)
}

// DecodePattern parses and validates a record value.
func DecodePattern(rec []byte) (*Pattern, error) {
	var p Pattern
	if err := decodeStrictJSON(rec, &p, "pattern"); err != nil {
		return nil, err
	}
	if p.Version != patternVersion {
		return nil, fmt.Errorf("%w: pattern version %d not supported (this build reads %d)", ErrMalformed, p.Version, patternVersion)
	}
	switch p.Kind {
	case PatternMinute:
		if p.Count <= 0 || p.Errors < 0 || p.Warnings < 0 || p.Errors+p.Warnings > p.Count {
			return nil, fmt.Errorf("%w: pattern minute counts %d/%d/%d", ErrMalformed, p.Count, p.Errors, p.Warnings)
		}
	case PatternNew:
	case PatternChanged:
		if len(p.PrevIDs) == 0 {
			return nil, fmt.Errorf("%w: changed pattern without previous ids", ErrMalformed)
		}
	default:
		return nil, fmt.Errorf("%w: pattern kind %q unknown", ErrMalformed, p.Kind)
	}
	if p.TimeMs == 0 || p.TemplateID == 0 || strings.TrimSpace(p.Template) == "" || p.Partition < 0 {
		return nil, fmt.Errorf("%w: pattern without time, template or partition", ErrMalformed)
	}
	return &p, nil
}

// A LogTemplateBatch record (topic firebreak.log-templates) assigns lines
// of one logs partition to templates. Layout, integers little-endian:
//
//	magic 0xFB, kind 'T', version 1
//	uvarint group count, then per group:
//	  string service, uvarint line count, then per line:
//	    uint64 entry id, int64 unix ns, uint64 template id
//
// The entry id and time are the line's (records.LogEntryRef), so the store
// joins on (service, time, entry_id), its logs table's sort key. The
// template id is the one the line got when it was mined; Pattern records
// of kind "changed" map ids that were generalized since.
const (
	kindLogTemplates    = 'T'
	logTemplatesVersion = 1
	logTemplateSize     = 24
)

// LogTemplateBatchBuilder appends line assignments to one record; lines of
// one service in a row share a group. The zero value is ready.
type LogTemplateBatchBuilder struct {
	body    []byte
	groups  int
	lines   int
	cur     []byte // the open group's lines
	curSvc  string
	curN    int
	hasOpen bool
}

// Reset empties the builder, keeping its memory.
func (b *LogTemplateBatchBuilder) Reset() {
	b.body, b.cur = b.body[:0], b.cur[:0]
	b.groups, b.lines, b.curN, b.hasOpen, b.curSvc = 0, 0, 0, false, ""
}

// Add assigns one line of service to template id.
func (b *LogTemplateBatchBuilder) Add(service string, entryID uint64, timeNs int64, templateID uint64) {
	if !b.hasOpen || service != b.curSvc {
		b.closeGroup()
		b.curSvc, b.hasOpen = service, true
	}
	b.cur = binary.LittleEndian.AppendUint64(b.cur, entryID)
	b.cur = binary.LittleEndian.AppendUint64(b.cur, uint64(timeNs))
	b.cur = binary.LittleEndian.AppendUint64(b.cur, templateID)
	b.curN++
	b.lines++
}

func (b *LogTemplateBatchBuilder) closeGroup() {
	if !b.hasOpen {
		return
	}
	b.body = appendString(b.body, b.curSvc)
	b.body = binary.AppendUvarint(b.body, uint64(b.curN))
	b.body = append(b.body, b.cur...)
	b.groups++
	b.cur, b.curN, b.hasOpen = b.cur[:0], 0, false
}

// Lines and Size report what the builder holds.
func (b *LogTemplateBatchBuilder) Lines() int { return b.lines }
func (b *LogTemplateBatchBuilder) Size() int  { return len(b.body) + len(b.cur) + len(b.curSvc) + 16 }

// AppendRecord appends the finished record value to dst (and closes the
// open group: Add may continue after it).
func (b *LogTemplateBatchBuilder) AppendRecord(dst []byte) []byte {
	b.closeGroup()
	dst = append(dst, recordMagic, kindLogTemplates, logTemplatesVersion)
	dst = binary.AppendUvarint(dst, uint64(b.groups))
	return append(dst, b.body...)
}

// LogTemplateVisitor receives a decoded LogTemplateBatch. service points
// into the record and is valid only during the call.
type LogTemplateVisitor interface {
	TemplateService(service []byte) error
	TemplateLine(entryID uint64, timeNs int64, templateID uint64)
}

// DecodeLogTemplates walks one LogTemplateBatch record, validating its
// whole structure; it never panics on bad input.
func DecodeLogTemplates(rec []byte, v LogTemplateVisitor) error {
	if len(rec) < 3 || rec[0] != recordMagic || rec[1] != kindLogTemplates {
		return fmt.Errorf("%w: not a log template batch (bad magic)", ErrMalformed)
	}
	if rec[2] != logTemplatesVersion {
		return fmt.Errorf("%w: log template batch version %d not supported (this build reads %d)", ErrMalformed, rec[2], logTemplatesVersion)
	}
	r := reader{buf: rec[3:]}
	n, ok := r.uvarint()
	if !ok || n > uint64(len(r.buf)) {
		return fmt.Errorf("%w: bad group count", ErrMalformed)
	}
	for g := uint64(0); g < n; g++ {
		svc, ok := r.bytes()
		if !ok {
			return fmt.Errorf("%w: group %d: truncated service", ErrMalformed, g)
		}
		lines, ok := r.uvarint()
		if !ok || lines > uint64(len(r.buf))/logTemplateSize {
			return fmt.Errorf("%w: group %d: bad line count", ErrMalformed, g)
		}
		if err := v.TemplateService(svc); err != nil {
			return err
		}
		for i := uint64(0); i < lines; i++ {
			p := r.buf[:logTemplateSize]
			r.buf = r.buf[logTemplateSize:]
			v.TemplateLine(binary.LittleEndian.Uint64(p), int64(binary.LittleEndian.Uint64(p[8:])), binary.LittleEndian.Uint64(p[16:]))
		}
	}
	if len(r.buf) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.buf))
	}
	return nil
}
